/**
 * The alarms an operator needs: something waits in the dead-letter queue, the function fails or is
 * throttled, the API answers 5xx, pins get slow. Each alarm is about one stage only. With an email in
 * context they go to an SNS topic with that subscription (the address confirms it once).
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type { Stage } from 'aws-cdk-lib/aws-apigateway';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../lib/observability.js';

/** Share of the API's requests answered 5xx (gateway and function) that raises the alarm. */
export const API_5XX_RATE_THRESHOLD = 0.05;
/** Every alarm looks at one 5-minute period. */
export const ALARM_PERIOD = Duration.minutes(5);

export interface PinAlarmsProps {
  stage: string;
  function: IFunction;
  apiStage: Stage;
  deadLetterQueue: IQueue;
  /** Pin latency p95 (ms) above which the latency alarm fires. */
  pinLatencyP95Ms: number;
  /** Subscribed to the alarm topic; undefined: no topic, the alarms are only in the console. */
  email?: string;
}

export class PinAlarms extends Construct {
  readonly alarms: Alarm[];
  readonly topic?: Topic;

  constructor(scope: Construct, id: string, props: PinAlarmsProps) {
    super(scope, id);
    const prefix = Stack.of(this).stackName;
    const alarm = (name: string, metric: IMetric, threshold: number, description: string) =>
      new Alarm(this, name, {
        alarmName: `${prefix}-${name}`,
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    const period = ALARM_PERIOD;
    this.alarms = [
      alarm(
        'dead-letters',
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
        0,
        'Pin requests wait in the dead-letter queue: client errors (the message attribute "error" says why) or requests that failed 5 times. Read them, fix, then redrive or delete them (infra/DEPLOY.md).',
      ),
      alarm('function-errors', props.function.metricErrors({ period, statistic: 'Sum' }), 0, 'The pin function crashed or timed out (answered errors are not counted): see its log group.'),
      alarm('function-throttles', props.function.metricThrottles({ period, statistic: 'Sum' }), 0, 'Invocations of the pin function were throttled: raise its reserved concurrency or the account quota.'),
      alarm(
        'api-5xx-rate',
        props.apiStage.metricServerError({ period, statistic: 'Average' }),
        API_5XX_RATE_THRESHOLD,
        `More than ${API_5XX_RATE_THRESHOLD * 100}% of API requests answered 5xx (device logged out, WhatsApp rejected or timed out, or a gateway error): see the function's log group and the access logs.`,
      ),
      alarm(
        'pin-latency-p95',
        new Metric({ namespace: METRICS_NAMESPACE, metricName: 'PinLatency', dimensionsMap: { service: SERVICE_NAME, stage: props.stage }, statistic: 'p95', period }),
        props.pinLatencyP95Ms,
        `Pins got slow: p95 over ${props.pinLatencyP95Ms} ms (the "pin call" log lines carry the timings of each phase).`,
      ),
    ];

    if (props.email === undefined) return;
    this.topic = new Topic(this, 'Topic', { displayName: `${prefix} alarms`, enforceSSL: true });
    this.topic.addSubscription(new EmailSubscription(props.email));
    const action = new SnsAction(this.topic);
    for (const a of this.alarms) {
      a.addAlarmAction(action);
      a.addOkAction(action);
    }
  }
}
