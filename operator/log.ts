/** The operator logs through the one logger of core/log.ts. */
export { createLogger } from '../core/log.js';
