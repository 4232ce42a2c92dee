/**
 * The run as a list of steps known up front, so the output can say what runs now and how far
 * along the run is ("[ 7/52] 0:41 http · primes · cpp"). A failing step is reported and the run
 * goes on: one broken strategy should not cost the figures of all the others.
 */
export interface Step {
  readonly label: string;
  /** Runs the measurement; the string it returns is printed as the step's one-line result. */
  run(): Promise<string | void>;
}

export interface StepFailure {
  label: string;
  error: string;
}

const clock = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

export async function runSteps(
  steps: readonly Step[],
  log: (line: string) => void = console.log,
): Promise<StepFailure[]> {
  const started = performance.now();
  const width = String(steps.length).length;
  const failures: StepFailure[] = [];
  for (const [i, step] of steps.entries()) {
    log(`[${String(i + 1).padStart(width)}/${steps.length}] ${clock(performance.now() - started)}  ${step.label}`);
    try {
      const result = await step.run();
      if (result) log(`${' '.repeat(2 * width + 10)}→ ${result}`);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      failures.push({ label: step.label, error: message });
      log(`${' '.repeat(2 * width + 10)}✗ FAILED: ${message}`);
    }
  }
  return failures;
}
