export { revealHidden } from '../../core/visible-text';

/** `NeedsAction` (or `Needs_Action`) → `Needs action`. */
export function phaseLabel(phase: string): string {
  const words = phase
    .replace(/_/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}
