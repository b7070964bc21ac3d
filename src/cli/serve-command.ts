// `keyward serve`: loads the configuration, starts the daemon, and wires the signals:
// SIGTERM and SIGINT stop it in order and exit 0, SIGHUP reloads.
import { pino } from 'pino';
import { loadConfig } from '../config/load-config.js';
import type { Logger } from '../core/logger.js';
import { KeywardDaemon } from '../daemon/keyward-daemon.js';

export async function serve(configFile: string): Promise<void> {
  const config = loadConfig(configFile);
  const log: Logger = pino({ level: config.log.level, base: { service: 'keyward', pid: process.pid } });
  let daemon: KeywardDaemon;
  try {
    daemon = await KeywardDaemon.start(config, log);
  } catch (err) {
    log.error({ err }, 'keyward failed to start');
    throw err;
  }
  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutdown requested');
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => daemon.reload(() => loadConfig(configFile)));
}
