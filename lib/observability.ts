import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** Service name (logs, the metrics' `service` dimension) and metrics namespace: infra sets the same ones. */
export const SERVICE_NAME = 'whatsapp-pin-api';
export const METRICS_NAMESPACE = 'WhatsAppPinApi';

/** Built once per process. POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE override the names. */
const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME;
export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ serviceName, namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE });
export const tracer = new Tracer({ serviceName });
