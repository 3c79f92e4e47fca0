/** The process cannot serve as configured; `serve` prints the message and exits 1. */
export class StartupError extends Error {}
