/**
 * Options for the property tests' `describe`: thousands of drawn cases on the CPU take
 * twice their usual minute or more on a slow or busy machine (CI runs three files at once
 * on two cores). The limit guards against a hang, not a slow machine.
 */
export const CPU_BOUND = { timeout: 360_000 };
