import { ConfigError, loadConfig, usage, type Config } from '../config/config.js';
import { startWebhook, StartupError } from '../serve/webhook.js';
import type { CliIo } from './io.js';

const HELP = `Usage: sidecar-injector serve [options]

Runs the admission webhook: POST /mutate, GET /healthz, /readyz, /metrics
over HTTPS. Every option can also be set by its environment variable; flags win.

Options:
${usage()}
`;

function examples(config: Readonly<Config>, port: number): string {
  const host = config.host === '0.0.0.0' || config.host === '127.0.0.1' ? 'localhost' : config.host;
  return `
sidecar-injector is serving on https://${host}:${port} (CA: ${config.certDir}/ca.crt, templates: ${config.templatesDir}/)
Try it from another terminal:
  # an AdmissionReview for a pod asking for log-collector; prints the response with the patch decoded
  ./examples/try-mutate.sh https://${host}:${port}/mutate examples/admission-review.json
  # the same injection, offline, on a Deployment
  node dist/main.js inject -f examples/deployment.yaml
  curl --cacert ${config.certDir}/ca.crt https://${host}:${port}/readyz
Stop with Ctrl-C.
`;
}

export async function runServe(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout(HELP);
    return 0;
  }
  let config: Readonly<Config>;
  try {
    config = loadConfig(argv, process.env);
  } catch (error) {
    if (error instanceof ConfigError) return io.fail(`serve: ${error.message}`);
    throw error;
  }
  let webhook;
  try {
    webhook = await startWebhook(config);
  } catch (error) {
    if (error instanceof StartupError) {
      return io.fail(`serve: ${(error as Error).message}`);
    }
    throw error;
  }
  if (config.printExamples) io.stderr(examples(config, webhook.port));
  const running = webhook;
  return new Promise<number>((resolve) => {
    let delay: SkippableDelay | undefined;
    // First signal: drain, serve on for --shutdown-delay, stop. Second: end the delay now.
    // Later ones: ignored, --shutdown-timeout bounds what is left.
    const onSignal = (signal: NodeJS.Signals): void => {
      if (delay !== undefined) {
        if (delay.skip()) running.logger.info({ signal }, 'shutting down: delay skipped');
        return;
      }
      running.logger.info(
        { signal, delaySeconds: config.shutdownDelaySeconds, timeoutSeconds: config.shutdownTimeoutSeconds },
        'shutting down: not ready, serving on until the delay ends, then finishing in-flight requests',
      );
      running.drain();
      delay = skippableDelay(config.shutdownDelaySeconds * 1000);
      void delay.done
        .then(() => running.stop())
        .then(() => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolve(0);
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

interface SkippableDelay {
  done: Promise<void>;
  /** Ends the delay now; false when it had already ended. */
  skip(): boolean;
}

function skippableDelay(ms: number): SkippableDelay {
  let end: () => void = () => undefined;
  let ended = false;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(() => end(), ms);
    end = () => {
      clearTimeout(timer);
      ended = true;
      resolve();
    };
  });
  return {
    done,
    skip: () => {
      if (ended) return false;
      end();
      return true;
    },
  };
}
