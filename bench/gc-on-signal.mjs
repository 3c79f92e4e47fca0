// Preloaded into the served process by bench/growth.ts (node --expose-gc
// --import): SIGUSR2 runs a full garbage collection, so the heap and RSS read
// next are what the process retains, not garbage a later GC would free.
process.on('SIGUSR2', () => globalThis.gc?.());
