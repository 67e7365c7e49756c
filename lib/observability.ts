import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** Service name (logs, the metrics' `service` dimension) and metrics namespace: infra sets the same ones. */
export const SERVICE_NAME = 'whatsapp-pin-api';
export const METRICS_NAMESPACE = 'WhatsAppPinApi';

/** Built once per process. POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE override the names. */
const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME;
export const logger = new Logger({ serviceName });

/** Powertools' Metrics, telling whether it publishes (POWERTOOLS_METRICS_DISABLED, else POWERTOOLS_DEV, decide). */
class ServiceMetrics extends Metrics {
  get publishing(): boolean {
    return !this.isDisabled();
  }
}
/**
 * Powertools' own notices about metrics (e.g. "No application metrics to publish") go to our logger, and nowhere
 * while metrics are off (npm start, invoke, tests): nothing is published then, so they tell nothing.
 */
let built = false;
const metricsNotices = {
  debug: () => undefined,
  info: () => undefined,
  warn: (notice: unknown) => void ((!built || metrics.publishing) && logger.warn(String(notice), { source: 'powertools-metrics' })),
  error: (notice: unknown) => logger.error(String(notice), { source: 'powertools-metrics' }),
};
export const metrics = new ServiceMetrics({
  serviceName,
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE,
  logger: metricsNotices,
});
built = true;
export const tracer = new Tracer({ serviceName });
