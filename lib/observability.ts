import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** Built once per process. Service name and namespace come from POWERTOOLS_* variables (set by infra). */
const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'whatsapp-pin-api';
export const logger = new Logger({ serviceName });
export const metrics = new Metrics({ serviceName, namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'WhatsAppPinApi' });
export const tracer = new Tracer({ serviceName });
