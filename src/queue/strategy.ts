import { kernelNames } from '../engines/kernels.js';
import type { Strategy } from '../server/strategy.js';
import { QueueUnavailableError } from './errors.js';
import type { QueueProducer } from './producer.js';

export const queueOffReason = 'set REDIS_URL or --redis-url (and start `offloop worker`)';

/**
 * The `queue` strategy: the kernel runs in an `offloop worker` process, anywhere, through a job
 * in Redis. Off, with the reason, when the server has no Redis. Every kernel is cancellable: a
 * waiting job is removed, a running one's kernel gets an AbortSignal from a cancel message (the
 * AbortError's `job` says which).
 */
export function queueStrategy(producer: QueueProducer | undefined): Strategy {
  return {
    name: 'queue',
    where: 'a job in Redis (BullMQ), run by an `offloop worker` process on this machine or another',
    blocksLoop: false,
    pool: 'queue',
    kernels: kernelNames,
    cancellable: () => true,
    ...(producer ? {} : { disabled: queueOffReason }),
    async run(kernel, args, signal, info) {
      if (!producer) throw new QueueUnavailableError(queueOffReason);
      const answer = await producer.run(kernel, args, signal);
      if (info) info.worker = answer.worker;
      return answer.value as never;
    },
  };
}
