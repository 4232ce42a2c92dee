import { createWorkers } from '../src/index.js';
import { createStrategies } from '../src/server/strategies.js';

/** What the benchmark needs to know about a strategy, read from the server's own table. */
export interface StrategyInfo {
  readonly name: string;
  readonly where: string;
  readonly blocksLoop: boolean;
  readonly pool: string;
  readonly kernels: readonly string[];
}

/**
 * The strategy table, exactly as the server builds it (`createStrategies`), so a strategy added
 * there is benchmarked with no change here. The worker engine it needs is lazy: no thread starts.
 */
export function strategyTable(): StrategyInfo[] {
  return [...createStrategies(createWorkers({ threads: 1 })).values()].map(
    ({ name, where, blocksLoop, pool, kernels }) => ({ name, where, blocksLoop, pool, kernels }),
  );
}

/**
 * The heavy route whose ping figure goes into the summary for this strategy: primes where the
 * strategy has it (the CPU kernel every engine shares), else pbkdf2 (builtin: OpenSSL's).
 */
export function primaryRoute(strategy: StrategyInfo): 'primes' | 'pbkdf2' | undefined {
  return strategy.kernels.includes('primes') ? 'primes' : strategy.kernels.includes('pbkdf2') ? 'pbkdf2' : undefined;
}
