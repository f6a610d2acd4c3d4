// The trailwatch stack in CDK: the same resources, settings and least-privilege IAM as
// infra/template.yaml (SAM), so a team can pick either tool and get the same deployment.

import * as cdk from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MAX_RECEIVE_COUNT, TrailwatchSettings, severitiesAtOrAbove, visibilityTimeoutSeconds } from './config';

/**
 * checkov findings answered in writing, the same answers as in template.yaml's Metadata, so
 * `checkov --skip-download` on the synthesized template reports them as skipped, with reasons.
 */
export const CHECKOV_ANSWERS = {
  CKV_AWS_27:
    'Encrypted at rest with SQS-managed SSE; messages are S3 notifications (bucket and key names), ' +
    'so a customer key would add cost and a key policy to maintain, not protection.',
  CKV_AWS_18: 'This is the access-log bucket itself; logging it into itself would loop.',
  CKV_AWS_35:
    'Logs are encrypted at rest with SSE-S3 on a private, TLS-only bucket; existing SSE-KMS trails ' +
    'are supported through trailKmsKeyArn.',
  CKV_AWS_119: 'Encrypted at rest with the AWS-managed key; items are hashed dedup keys and expiry times, no log content.',
  CKV_AWS_158:
    'Logs hold object keys and counts, never whole records or secrets; CloudWatch Logs encrypts them at rest by default.',
  CKV_AWS_116:
    'Fed by SQS, whose redrive policy sends failed messages to the dead-letter queue; a function DLQ only ' +
    'applies to asynchronous invocations.',
  CKV_AWS_117: 'The function calls only public AWS endpoints (S3, SNS, DynamoDB, Security Hub); a VPC would add NAT cost and no isolation.',
  CKV_AWS_115:
    'Concurrency is capped by the SQS event source (maxConcurrency) without taking from the account pool; ' +
    'reservedConcurrency is available when a team wants it.',
  CKV_AWS_173: 'Environment variables hold ARNs, account ids and settings, no secrets; Lambda encrypts them with its service key.',
} as const;

/** What both buckets of a new trail share: private, encrypted, TLS-only, versioned, kept. */
const PRIVATE_BUCKET: s3.BucketProps = {
  encryption: s3.BucketEncryption.S3_MANAGED,
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
  enforceSSL: true,
  versioned: true,
  removalPolicy: cdk.RemovalPolicy.RETAIN,
};

function answerCheckov(construct: Construct, ids: (keyof typeof CHECKOV_ANSWERS)[]): void {
  const resource = (construct.node.defaultChild ?? construct) as cdk.CfnResource;
  resource.cfnOptions.metadata = {
    ...resource.cfnOptions.metadata,
    checkov: { skip: ids.map((id) => ({ id, comment: CHECKOV_ANSWERS[id] })) },
  };
}

export interface TrailwatchStackProps extends cdk.StackProps {
  readonly settings: TrailwatchSettings;
  /** Directory holding the function's `bootstrap` (see asset.ts). */
  readonly assetDirectory: string;
}

export class TrailwatchStack extends cdk.Stack {
  readonly alertTopic: sns.Topic;
  /** Custom notifications for AWS Chatbot / Amazon Q Developer (setting chatTopic). */
  readonly chatTopic?: sns.Topic;
  readonly ingestQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly function: lambda.Function;
  readonly dedupTable?: dynamodb.Table;

  constructor(scope: Construct, id: string, props: TrailwatchStackProps) {
    super(scope, id, props);
    const s = props.settings;

    // ------------------------------------------------------------ alerts
    const alertKey = new kms.Key(this, 'AlertKey', {
      description: 'trailwatch alert topic encryption',
      enableKeyRotation: true,
      alias: `alias/${this.stackName}-alerts`,
    });
    // CloudWatch alarms publish to the encrypted topic.
    alertKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    this.alertTopic = new sns.Topic(this, 'AlertTopic', {
      displayName: 'trailwatch alerts',
      masterKey: alertKey,
      enforceSSL: true,
    });
    this.alertTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alertTopic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );
    if (s.alertEmail) {
      this.alertTopic.addSubscription(
        new subscriptions.EmailSubscription(s.alertEmail, {
          filterPolicy: {
            severity: sns.SubscriptionFilter.stringFilter({
              allowlist: severitiesAtOrAbove(s.emailMinSeverity),
            }),
          },
        }),
      );
    }

    // Custom notifications for AWS Chatbot / Amazon Q Developer: not a subscription of the
    // alert topic, whose HTTPS subscribers expect the alert JSON.
    if (s.chatTopic) {
      this.chatTopic = new sns.Topic(this, 'ChatTopic', {
        displayName: 'trailwatch chat notifications',
        masterKey: alertKey,
        enforceSSL: true,
      });
    }

    // ------------------------------------------------------------ ingestion queue
    this.deadLetterQueue = new sqs.Queue(this, 'IngestDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: cdk.Duration.days(14),
    });
    this.ingestQueue = new sqs.Queue(this, 'IngestQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: cdk.Duration.days(4),
      visibilityTimeout: cdk.Duration.seconds(visibilityTimeoutSeconds(s.timeoutSeconds)),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });

    // ------------------------------------------------------------ where logs come from
    const newTrailBucket = s.ingestionMode === 'new-trail' ? this.newTrail(s) : undefined;
    const trailBucketName = newTrailBucket?.bucketName ?? (s.existingTrailBucketName as string);
    if (s.ingestionMode === 'existing-trail-topic') {
      const trailTopic = sns.Topic.fromTopicArn(this, 'TrailTopic', s.existingTrailTopicArn as string);
      trailTopic.addSubscription(new subscriptions.SqsSubscription(this.ingestQueue));
    } else {
      // S3 -> EventBridge -> SQS, for the new bucket and for an existing one alike: no
      // bucket/queue-policy cycle, and it works for a bucket this stack does not own.
      new events.Rule(this, 'ObjectCreatedRule', {
        description: 'New CloudTrail log objects',
        eventPattern: {
          source: ['aws.s3'],
          detailType: ['Object Created'],
          detail: {
            bucket: { name: [trailBucketName] },
            object: { key: events.Match.prefix(s.logPrefix) },
          },
        },
        targets: [new targets.SqsQueue(this.ingestQueue)],
      });
    }

    // ------------------------------------------------------------ dedup table
    if (s.enableDedupTable) {
      this.dedupTable = new dynamodb.Table(this, 'DedupTable', {
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        timeToLiveAttribute: 'expires_at',
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        // Claims expire within a day; nothing of value is lost with the stack.
        removalPolicy: cdk.RemovalPolicy.DESTROY,
      });
    }

    // ------------------------------------------------------------ function
    const logGroup = new logs.LogGroup(this, 'FunctionLogGroup', {
      retention: s.logRetentionDays as logs.RetentionDays,
    });
    // An explicit role with inline statements only: no managed policy, nothing beyond what
    // the function calls.
    const role = new iam.Role(this, 'FunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'trailwatch function: read trail logs, publish alerts, dedup claims',
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadTrailLogs',
        actions: ['s3:GetObject'],
        resources: [`arn:${cdk.Aws.PARTITION}:s3:::${trailBucketName}/${s.logPrefix}*`],
      }),
    );
    // Without s3:ListBucket, S3 answers a GetObject for a missing key with 403, which the
    // function must retry (it also means a missing permission); with it, 404, which is not
    // retried. Limited to listing under the log prefix.
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListTrailLogPrefix',
        actions: ['s3:ListBucket'],
        resources: [`arn:${cdk.Aws.PARTITION}:s3:::${trailBucketName}`],
        conditions: { StringLike: { 's3:prefix': [`${s.logPrefix}*`] } },
      }),
    );
    if (s.trailKmsKeyArn) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'DecryptTrailLogs',
          actions: ['kms:Decrypt'],
          resources: [s.trailKmsKeyArn],
        }),
      );
    }
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PublishAlerts',
        actions: ['sns:Publish'],
        resources: [this.alertTopic.topicArn],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'EncryptAlerts',
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: [alertKey.keyArn],
      }),
    );
    if (this.chatTopic) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'PublishChatNotifications',
          actions: ['sns:Publish'],
          resources: [this.chatTopic.topicArn],
        }),
      );
    }
    if (s.securityHub) {
      // The service authorization reference scopes BatchImportFindings to a product: the
      // account's own default product, in this region.
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ImportFindings',
          actions: ['securityhub:BatchImportFindings'],
          resources: [
            `arn:${cdk.Aws.PARTITION}:securityhub:${cdk.Aws.REGION}:${cdk.Aws.ACCOUNT_ID}:product/${cdk.Aws.ACCOUNT_ID}/default`,
          ],
        }),
      );
    }
    if (this.dedupTable) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'DedupClaims',
          actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
          resources: [this.dedupTable.tableArn],
        }),
      );
    }

    // Read access to exactly the tuning file's object or parameter, when there is one.
    if (s.configSource?.startsWith('s3://')) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadConfigObject',
          actions: ['s3:GetObject'],
          resources: [`arn:${cdk.Aws.PARTITION}:s3:::${s.configSource.slice('s3://'.length)}`],
        }),
      );
    } else if (s.configSource?.startsWith('ssm:')) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadConfigParameter',
          actions: ['ssm:GetParameter'],
          resources: [
            `arn:${cdk.Aws.PARTITION}:ssm:${cdk.Aws.REGION}:${cdk.Aws.ACCOUNT_ID}:parameter${s.configSource.slice('ssm:'.length)}`,
          ],
        }),
      );
    }

    this.function = new lambda.Function(this, 'Function', {
      description: 'trailwatch detector',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
      code: lambda.Code.fromAsset(props.assetDirectory),
      memorySize: s.memorySize,
      timeout: cdk.Duration.seconds(s.timeoutSeconds),
      reservedConcurrentExecutions: s.reservedConcurrency > 0 ? s.reservedConcurrency : undefined,
      role,
      logGroup,
      environment: {
        ALERT_TOPIC_ARN: this.alertTopic.topicArn,
        TRUSTED_ACCOUNTS: s.trustedAccounts.join(','),
        TRUSTED_ORGANIZATIONS: s.trustedOrganizations.join(','),
        DISABLED_RULES: s.disabledRules.join(','),
        MIN_SEVERITY: s.minSeverity,
        DEDUP_TABLE: this.dedupTable?.tableName ?? '',
        MAX_CONCURRENT_OBJECTS: String(s.maxConcurrentObjects),
        MAX_DECOMPRESSED_BYTES: String(s.maxDecompressedBytes),
        RUST_LOG: s.logLevel,
        CHAT_TOPIC_ARN: this.chatTopic?.topicArn ?? '',
        SECURITY_HUB: String(s.securityHub),
        TRAILWATCH_CONFIG: s.configSource ?? '',
        CONFIG_RELOAD_SECONDS: String(s.configReloadSeconds),
      },
    });
    this.function.addEventSource(
      new sources.SqsEventSource(this.ingestQueue, {
        batchSize: 10,
        maxBatchingWindow: cdk.Duration.seconds(5),
        reportBatchItemFailures: true,
        maxConcurrency: s.maxConcurrency,
      }),
    );
    answerCheckov(this.function, ['CKV_AWS_116', 'CKV_AWS_117', 'CKV_AWS_115', 'CKV_AWS_173']);
    answerCheckov(logGroup, ['CKV_AWS_158']);
    answerCheckov(this.ingestQueue, ['CKV_AWS_27']);
    answerCheckov(this.deadLetterQueue, ['CKV_AWS_27']);
    if (this.dedupTable) answerCheckov(this.dedupTable, ['CKV_AWS_119']);

    // ------------------------------------------------------------ alarms
    const alarmTopic = s.opsTopicArn
      ? sns.Topic.fromTopicArn(this, 'OpsTopic', s.opsTopicArn)
      : this.alertTopic;
    const alarm = (id: string, description: string, metric: cloudwatch.IMetric, threshold: number,
      comparison: cloudwatch.ComparisonOperator) => {
      const a = new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: comparison,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(new cwActions.SnsAction(alarmTopic));
      return a;
    };
    const atLeast = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
    const above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD;
    const fiveMinutes = cdk.Duration.minutes(5);
    alarm('FunctionErrorsAlarm', 'trailwatch function errors (failed invocations are retried from the queue)',
      this.function.metricErrors({ period: fiveMinutes, statistic: 'Sum' }), 1, atLeast);
    alarm('FunctionThrottlesAlarm', 'trailwatch function throttled',
      this.function.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }), 1, atLeast);
    alarm('DeadLetterDepthAlarm', 'Log notifications that failed five times are waiting in the dead-letter queue',
      this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
      0, above);
    alarm('OldestMessageAgeAlarm', 'Detection is falling behind (oldest log notification too old)',
      this.ingestQueue.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: 'Maximum' }),
      s.oldestMessageAgeAlarmSeconds, above);
    alarm('ObjectsFailedAlarm', 'Log objects could not be read (corrupt, access denied, too large); see the function log',
      new cloudwatch.Metric({
        namespace: 'trailwatch',
        metricName: 'ObjectsFailed',
        dimensionsMap: { FunctionName: this.function.functionName },
        period: fiveMinutes,
        statistic: 'Sum',
      }), 1, atLeast);
    // A record nobody could judge may be an attacker hiding an event: each is named by event
    // id in the function log.
    alarm('RecordsSkippedAlarm',
      'Log records were read but not fully evaluated (unreadable, or a rule could not judge them); the function log names each by event id',
      new cloudwatch.Metric({
        namespace: 'trailwatch',
        metricName: 'RecordsSkipped',
        dimensionsMap: { FunctionName: this.function.functionName },
        period: fiveMinutes,
        statistic: 'Sum',
      }), 1, atLeast);

    // A new version of the tuning file that could not be read or is invalid: the function runs
    // on the last good one and says why in its log.
    if (s.configSource) {
      alarm('ConfigReloadFailedAlarm',
        'A new version of the tuning file could not be read or is invalid; the function runs on the last good version (see the function log for the error and line)',
        new cloudwatch.Metric({
          namespace: 'trailwatch',
          metricName: 'ConfigReloadFailed',
          dimensionsMap: { FunctionName: this.function.functionName },
          period: fiveMinutes,
          statistic: 'Sum',
        }), 1, atLeast);
    }

    // ------------------------------------------------------------ outputs
    new cdk.CfnOutput(this, 'AlertTopicArn', {
      description: 'Subscribe here; filter on the rule_id, severity, account_id and event_name attributes.',
      value: this.alertTopic.topicArn,
    });
    if (this.chatTopic) {
      new cdk.CfnOutput(this, 'ChatTopicArn', {
        description: 'Connect this topic to a Slack or Teams channel in AWS Chatbot / Amazon Q Developer.',
        value: this.chatTopic.topicArn,
      });
    }
    new cdk.CfnOutput(this, 'IngestQueueUrl', { value: this.ingestQueue.queueUrl });
    new cdk.CfnOutput(this, 'IngestQueueArn', { value: this.ingestQueue.queueArn });
    new cdk.CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new cdk.CfnOutput(this, 'FunctionName', { value: this.function.functionName });
    new cdk.CfnOutput(this, 'FunctionArn', {
      description: 'trailwatch backfill --function-arn',
      value: this.function.functionArn,
    });
    if (s.backfillBucketName) {
      this.backfillJobRole(s.backfillBucketName, s.backfillPrefix);
    }
    if (s.ingestionMode === 'new-trail') {
      new cdk.CfnOutput(this, 'TrailBucketName', { value: trailBucketName });
    }
    if (this.dedupTable) {
      new cdk.CfnOutput(this, 'DedupTableName', { value: this.dedupTable.tableName });
    }

    // How cdk-nag names the bucket in the read statement: the bucket's logical id, or its name.
    const bucketInFinding = newTrailBucket
      ? `<${this.resolve((newTrailBucket.node.defaultChild as cdk.CfnElement).logicalId)}>`
      : trailBucketName;
    this.acknowledgeAnsweredFindings(role, `arn:<AWS::Partition>:s3:::${bucketInFinding}/${s.logPrefix}*`);
  }

  /** The multi-region trail, its private bucket and the bucket's access-log bucket. */
  private newTrail(s: TrailwatchSettings): s3.Bucket {
    const accessLogs = new s3.Bucket(this, 'AccessLogBucket', {
      ...PRIVATE_BUCKET,
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: cdk.Duration.days(s.logExpirationDays),
          noncurrentVersionExpiration: cdk.Duration.days(30) },
      ],
    });
    const bucket = new s3.Bucket(this, 'TrailBucket', {
      ...PRIVATE_BUCKET,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'trail-bucket/',
      lifecycleRules: [
        {
          id: 'age-out-trail-logs',
          transitions: [
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: cdk.Duration.days(s.logTransitionDays) },
          ],
          expiration: cdk.Duration.days(s.logExpirationDays),
          noncurrentVersionExpiration: cdk.Duration.days(30),
        },
      ],
    });
    // EventBridge notifications set on the bucket itself: `eventBridgeEnabled: true` would add
    // a custom-resource Lambda with a managed policy for the same one-line setting.
    (bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    const trail = new cloudtrail.Trail(this, 'Trail', {
      trailName: `${this.stackName}-trail`,
      bucket,
      isMultiRegionTrail: true,
      includeGlobalServiceEvents: true,
      enableFileValidation: true,
      sendToCloudWatchLogs: false,
    });
    answerCheckov(trail, ['CKV_AWS_35']);
    answerCheckov(accessLogs, ['CKV_AWS_18']);
    cdk.Validations.of(accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket; logging it into itself would loop.',
    });
    return bucket;
  }

  /**
   * The role S3 Batch Operations assumes for `trailwatch backfill`: invoke the function once per
   * manifest line, read the manifests, write the completion reports. The function reads the log
   * objects with its own role.
   */
  private backfillJobRole(bucket: string, prefix: string): void {
    const role = new iam.Role(this, 'BackfillJobRole', {
      assumedBy: new iam.ServicePrincipal('batchoperations.s3.amazonaws.com'),
      description: 'trailwatch backfill - S3 Batch Operations job invoking the function',
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeFunction',
        actions: ['lambda:InvokeFunction'],
        resources: [this.function.functionArn],
      }),
    );
    const manifests = `arn:${cdk.Aws.PARTITION}:s3:::${bucket}/${prefix}/manifests/*`;
    const reports = `arn:${cdk.Aws.PARTITION}:s3:::${bucket}/${prefix}/job-*`;
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadManifests',
        actions: ['s3:GetObject', 's3:GetObjectVersion'],
        resources: [manifests],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteReports',
        actions: ['s3:PutObject'],
        resources: [reports],
      }),
    );
    for (const [objects, reason] of [
      [manifests, 'Manifest names are chosen per backfill run; reads are limited to the manifests prefix.'],
      [reports, 'Batch Operations names each report folder job-ID after the job it creates; writes are limited to those.'],
    ]) {
      cdk.Validations.of(role).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::${objects.replace(cdk.Aws.PARTITION, '<AWS::Partition>')}]`,
        reason,
      });
    }
    new cdk.CfnOutput(this, 'BackfillJobRoleArn', { description: 'trailwatch backfill --role-arn', value: role.roleArn });
    new cdk.CfnOutput(this, 'BackfillReportLocation', {
      description: 'trailwatch backfill --report',
      value: `s3://${bucket}/${prefix}`,
    });
  }

  /** cdk-nag findings answered in writing (see infra/README.md, "Security review"). */
  private acknowledgeAnsweredFindings(role: iam.Role, trailLogObjects: string): void {
    cdk.Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of IngestQueue.',
    });
    // Each wildcard is acknowledged by its exact finding, so a new one still fails the check.
    cdk.Validations.of(role).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::${trailLogObjects}]`,
      reason: 's3:GetObject on the trail log prefix only: object names are known only at run time.',
    });
    cdk.Validations.of(role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason: 'The data-key family SNS asks for when publishing to the encrypted topic, on the alert key only.',
    });
  }
}
