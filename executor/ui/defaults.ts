/** Where the status page listens unless told otherwise (no imports: the CLI's help text reads these). */
export const DEFAULT_UI_PORT = 7420;
export const DEFAULT_UI_BIND = '127.0.0.1';
