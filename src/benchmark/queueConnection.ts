/**
 * Redis connections for the benchmark queue that fail in words: an address that does not answer is one line
 * within a few seconds, and a server that goes away mid-run ends the run with a message instead of retrying
 * for ever.
 */
import { Redis } from 'ioredis';
import { UserError } from '../errors.ts';

export interface QueueConnectionOptions {
  /** How long to wait for the first connection (default 3 s). */
  connectTimeoutMs?: number;
  /** How long to keep reconnecting after losing the server before giving up (default 10 s). */
  reconnectForMs?: number;
}

export interface QueueConnection {
  readonly redis: Redis;
  /** Rejects with a UserError once the connection is lost for good; never resolves. */
  readonly lost: Promise<never>;
  close(): Promise<void>;
}

const RECONNECT_DELAY_MS = 250;

function checkUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {}
  if (!parsed || !['redis:', 'rediss:'].includes(parsed.protocol) || !parsed.hostname) {
    throw new UserError(
      `--queue ${url} is not a Redis URL; give redis://HOST:PORT[/DB], e.g. redis://127.0.0.1:6379`,
    );
  }
}

export async function connectQueue(
  url: string,
  options: QueueConnectionOptions = {},
): Promise<QueueConnection> {
  checkUrl(url);
  const connectTimeout = options.connectTimeoutMs ?? 3000;
  const attempts = Math.ceil((options.reconnectForMs ?? 10_000) / RECONNECT_DELAY_MS);
  let connected = false;
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout,
    // BullMQ's workers need commands to wait for a reconnect rather than fail after a few retries.
    maxRetriesPerRequest: null,
    retryStrategy: (times) => (!connected || times > attempts ? null : RECONNECT_DELAY_MS),
  });
  let lastError = '';
  redis.on('error', (error: Error) => {
    lastError = (error as NodeJS.ErrnoException).code ?? error.message;
  });
  try {
    await redis.connect();
    connected = true;
  } catch (error) {
    redis.disconnect();
    const reason = lastError || (error as Error).message;
    throw new UserError(
      `cannot reach Redis at ${url} (${reason}); start redis-server there or correct --queue`,
    );
  }
  let closing = false;
  const lost = new Promise<never>((_, reject) => {
    redis.on('end', () => {
      if (closing) return;
      reject(
        new UserError(
          `lost the connection to Redis at ${url} (${lastError || 'closed'}); what was stored is kept: ` +
            'run the same command again once Redis is back',
        ),
      );
    });
  });
  lost.catch(() => {}); // observed by whoever races it; not an unhandled rejection otherwise
  return {
    redis,
    lost,
    async close() {
      closing = true;
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
