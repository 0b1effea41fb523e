// The exit-code convention between a cell (`grove start`) and its watchdog (docs/operations.md
// "Exit codes"). Any other code, or death by a signal, is a crash: restart with backoff.

/** Stopped on purpose (SIGTERM/SIGINT): the watchdog stops too. */
export const EXIT_STOP = 0;
/** Please start me again now (no backoff, not counted as a crash). */
export const EXIT_RESTART = 75;
/** An update was accepted: install the pending build, start it on probation. */
export const EXIT_UPDATE = 76;
/** The watchdog gave up after too many crashes. */
export const EXIT_GAVE_UP = 3;
