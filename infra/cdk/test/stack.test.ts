// Assertions on the synthesized stack: least privilege, encryption, the dead-letter queue, the
// alarms, each ingestion mode, and cdk-nag's AwsSolutions pack passing (synth throws otherwise).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { makePlaceholderAsset, resolveFunctionAsset } from '../lib/asset';
import {
  LEASE_MARGIN_SECONDS, SettingsError, TrailwatchSettings, leaseAndLastRedelivery, resolveSettings, settingsFromContext,
} from '../lib/config';
import { TrailwatchStack } from '../lib/stack';

const ASSET = makePlaceholderAsset();
// The feature flags `cdk synth` runs with, so the tests see the same template.
const CDK_CONTEXT = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8')).context;
const TRAIL_KEY = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const TRAIL_TOPIC = 'arn:aws:sns:us-east-1:111122223333:org-trail-notices';

function build(partial: Partial<TrailwatchSettings> = {}, tamper?: (stack: TrailwatchStack) => void) {
  const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'trailwatch-cdk-')), context: CDK_CONTEXT });
  const stack = new TrailwatchStack(app, 'trailwatch', {
    settings: resolveSettings(partial),
    assetDirectory: ASSET,
  });
  tamper?.(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth(); // throws when cdk-nag reports an unacknowledged finding
  return { stack, template: Template.fromStack(stack) };
}

/** Every Allow statement of the function's role, with resources resolved to JSON text. */
function functionStatements(template: Template): { Action: string | string[]; Resource: unknown; Sid?: string }[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^FunctionRole') }] },
  });
  assert.equal(Object.keys(policies).length, 1, 'one inline policy on the function role');
  return Object.values(policies)[0].Properties.PolicyDocument.Statement;
}

const actionsOf = (st: { Action: string | string[] }) => (Array.isArray(st.Action) ? st.Action : [st.Action]);

describe('new-trail stack (defaults)', () => {
  const { template } = build();

  it('creates a multi-region trail with file validation on a private, versioned, TLS-only bucket', () => {
    template.hasResourceProperties('AWS::CloudTrail::Trail', {
      IsMultiRegionTrail: true,
      IncludeGlobalServiceEvents: true,
      EnableLogFileValidation: true,
      IsLogging: true,
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
      },
      BucketEncryption: Match.objectLike({}),
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'trail-bucket/' }),
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ ExpirationInDays: 400, Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }] })],
      },
    });
    // CloudTrail may write, and everything else must use TLS.
    const policies = JSON.stringify(template.findResources('AWS::S3::BucketPolicy'));
    assert.match(policies, /cloudtrail\.amazonaws\.com/);
    assert.match(policies, /"aws:SecureTransport":"false"/);
  });

  it('routes new log objects through EventBridge to the queue, under AWSLogs/ only', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [{ Ref: Match.stringLikeRegexp('^TrailBucket') }] }, object: { key: [{ prefix: 'AWSLogs/' }] } },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestQueue'), 'Arn'] } })],
    });
  });

  it('has an encrypted queue with a dead-letter queue and a visibility timeout covering the function', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 6 * 120 + 30,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestDeadLetterQueue'), 'Arn'] }, maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  it('publishes alerts to a KMS-encrypted topic with key rotation', () => {
    template.hasResourceProperties('AWS::SNS::Topic', {
      KmsMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AlertKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('runs the function on provided.al2023 arm64 with its configuration', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'provided.al2023',
      Architectures: ['arm64'],
      Handler: 'bootstrap',
      MemorySize: 512,
      Timeout: 120,
      Environment: {
        Variables: Match.objectLike({
          ALERT_TOPIC_ARN: { Ref: Match.stringLikeRegexp('^AlertTopic') },
          DEDUP_TABLE: { Ref: Match.stringLikeRegexp('^DedupTable') },
          MIN_SEVERITY: 'info',
          TRUSTED_ACCOUNTS: '',
        }),
      },
    });
    template.resourcePropertiesCountIs('AWS::Lambda::Function', { ReservedConcurrentExecutions: Match.anyValue() }, 0);
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it('has an on-demand dedup table with TTL and point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('grants the function only what it calls, each on its own resource', () => {
    const statements = functionStatements(template);
    const byAction = new Map<string, unknown>();
    for (const st of statements) for (const a of actionsOf(st)) byAction.set(a, st.Resource);
    assert.deepEqual([...byAction.keys()].sort(), [
      'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem',
      'kms:Decrypt', 'kms:GenerateDataKey*',
      'logs:CreateLogStream', 'logs:PutLogEvents',
      's3:GetObject', 's3:ListBucket', 'sns:Publish',
      'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage',
    ]);
    for (const [action, resource] of byAction) {
      assert.notEqual(resource, '*', `${action} must not be on every resource`);
    }
    assert.match(JSON.stringify(byAction.get('s3:GetObject')), /"\/AWSLogs\/\*"/, 's3:GetObject on the log prefix only');
    assert.match(JSON.stringify(byAction.get('sns:Publish')), /AlertTopic/);
    // A missing key must answer 404 (not retried), not 403 (retried five times, then alarms).
    const list = statements.find((st) => st.Sid === 'ListTrailLogPrefix') as Record<string, unknown> | undefined;
    assert.ok(list, 's3:ListBucket is granted');
    assert.deepEqual(list.Condition, { StringLike: { 's3:prefix': ['AWSLogs/*'] } }, 'listing under the log prefix only');
    assert.doesNotMatch(JSON.stringify(list.Resource), /\/\*/, 'on the bucket, not its objects');
    assert.match(JSON.stringify(byAction.get('kms:Decrypt')), /AlertKey/, 'no trail key given: decrypt on the alert key only');
    assert.match(JSON.stringify(byAction.get('dynamodb:PutItem')), /DedupTable/);
    // No managed policies (AWSLambdaBasicExecutionRole would grant logs on every group).
    template.resourcePropertiesCountIs('AWS::IAM::Role', { ManagedPolicyArns: Match.anyValue() }, 0);
  });

  it('alarms on function errors, throttles, dead letters, queue age, unreadable objects and skipped records', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const metrics = alarms.map((a) => `${a.Namespace}/${a.MetricName}`).sort();
    assert.deepEqual(metrics, [
      'AWS/Lambda/Errors', 'AWS/Lambda/Throttles',
      'AWS/SQS/ApproximateAgeOfOldestMessage', 'AWS/SQS/ApproximateNumberOfMessagesVisible',
      'trailwatch/ObjectsFailed', 'trailwatch/RecordsSkipped',
    ]);
    for (const alarm of alarms) {
      assert.equal(alarm.AlarmActions.length, 1, `${alarm.MetricName} notifies someone`);
    }
    for (const name of ['ObjectsFailed', 'RecordsSkipped']) {
      const own = alarms.find((a) => a.MetricName === name);
      // The function's EMF lines carry a FunctionName dimension; the alarm must select on it.
      assert.equal(own.Dimensions.length, 1, name);
      assert.equal(own.Dimensions[0].Name, 'FunctionName', name);
      assert.match(JSON.stringify(own.Dimensions[0].Value), /^\{"Ref":"Function[0-9A-F]+"\}$/, name);
      assert.equal(own.Threshold, 1, name);
    }
  });

  it('answers every checkov finding it skips in writing', () => {
    const skipped = Object.values(template.toJSON().Resources as Record<string, any>)
      .flatMap((r) => r.Metadata?.checkov?.skip ?? []);
    assert.ok(skipped.length >= 8);
    for (const s of skipped) assert.ok(s.comment.length > 40, `${s.id} has a reason`);
  });
});

describe('existing trail bucket (organization trail, SSE-KMS)', () => {
  const { template } = build({
    ingestionMode: 'existing-bucket',
    existingTrailBucketName: 'org-trail-logs',
    trailKmsKeyArn: TRAIL_KEY,
    trustedAccounts: ['111122223333'],
    alertEmail: 'secops@example.com',
    emailMinSeverity: 'high',
    enableDedupTable: false,
    reservedConcurrency: 5,
  });

  it('creates no trail or bucket and matches the existing bucket in the EventBridge rule', () => {
    template.resourceCountIs('AWS::CloudTrail::Trail', 0);
    template.resourceCountIs('AWS::S3::Bucket', 0);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({ detail: { bucket: { name: ['org-trail-logs'] }, object: { key: [{ prefix: 'AWSLogs/' }] } } }),
    });
  });

  it('decrypts with the trail key only and reads only the log prefix of that bucket', () => {
    const statements = functionStatements(template);
    const decrypt = statements.find((s) => s.Sid === 'DecryptTrailLogs');
    assert.deepEqual(decrypt, { Action: 'kms:Decrypt', Effect: 'Allow', Resource: TRAIL_KEY, Sid: 'DecryptTrailLogs' });
    const read = statements.find((s) => s.Sid === 'ReadTrailLogs');
    assert.deepEqual(read?.Resource, { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::org-trail-logs/AWSLogs/*']] });
    assert.ok(!statements.some((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:'))), 'no table, no table rights');
  });

  it('subscribes the e-mail with a severity filter policy, and reserves concurrency', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'secops@example.com',
      FilterPolicy: { severity: ['high', 'critical'] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 5,
      Environment: { Variables: Match.objectLike({ TRUSTED_ACCOUNTS: '111122223333', DEDUP_TABLE: '' }) },
    });
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
  });
});

describe('existing trail SNS notices', () => {
  const { template } = build({
    ingestionMode: 'existing-trail-topic',
    existingTrailBucketName: 'org-trail-logs',
    existingTrailTopicArn: TRAIL_TOPIC,
  });

  it('subscribes the queue to the trail topic and lets only that topic send', () => {
    template.resourceCountIs('AWS::Events::Rule', 0);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      TopicArn: TRAIL_TOPIC,
      Endpoint: { 'Fn::GetAtt': [Match.stringLikeRegexp('^IngestQueue'), 'Arn'] },
    });
    const policy = JSON.stringify(template.findResources('AWS::SQS::QueuePolicy'));
    assert.match(policy, /sns\.amazonaws\.com/);
    assert.match(policy, new RegExp(`"aws:SourceArn":"${TRAIL_TOPIC}"`));
  });
});

describe('chat topic and Security Hub', () => {
  it('grant nothing and set nothing unless asked for', () => {
    const { template } = build();
    template.resourceCountIs('AWS::SNS::Topic', 1);
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    assert.equal(fn.Properties.Environment.Variables.CHAT_TOPIC_ARN, '');
    assert.equal(fn.Properties.Environment.Variables.SECURITY_HUB, 'false');
    const actions = functionStatements(template).flatMap(actionsOf);
    assert.ok(!actions.includes('securityhub:BatchImportFindings'));
  });

  it('publish to an encrypted chat topic and import into the default product only', () => {
    const { template } = build({ chatTopic: true, securityHub: true });
    const topics = template.findResources('AWS::SNS::Topic');
    const chat = Object.entries(topics).find(([id]) => id.startsWith('ChatTopic'));
    assert.ok(chat, 'a chat topic');
    assert.ok(chat[1].Properties.KmsMasterKeyId, 'encrypted');
    const fn = Object.values(template.findResources('AWS::Lambda::Function'))[0];
    assert.deepEqual(fn.Properties.Environment.Variables.CHAT_TOPIC_ARN, { Ref: chat[0] });
    assert.equal(fn.Properties.Environment.Variables.SECURITY_HUB, 'true');
    const statements = functionStatements(template);
    const publishChat = statements.find((st) => st.Sid === 'PublishChatNotifications');
    assert.deepEqual(publishChat?.Resource, { Ref: chat[0] });
    const findings = statements.find((st) => st.Sid === 'ImportFindings');
    assert.equal(findings?.Action, 'securityhub:BatchImportFindings');
    assert.deepEqual(findings?.Resource, {
      'Fn::Join': ['', [
        'arn:', { Ref: 'AWS::Partition' }, ':securityhub:', { Ref: 'AWS::Region' }, ':',
        { Ref: 'AWS::AccountId' }, ':product/', { Ref: 'AWS::AccountId' }, '/default',
      ]],
    });
  });

  it('read both settings from context', () => {
    const s = settingsFromContext((k) => ({ chatTopic: 'true', securityHub: 'true' } as Record<string, string>)[k]);
    assert.equal(s.chatTopic, true);
    assert.equal(s.securityHub, true);
    assert.throws(() => settingsFromContext((k) => (k === 'securityHub' ? 'yes' : undefined)), /securityHub/);
  });
});

describe('backfill job role', () => {
  it('is absent unless a backfill bucket is given', () => {
    build().template.resourcePropertiesCountIs(
      'AWS::IAM::Role',
      { AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'batchoperations.s3.amazonaws.com' } })] }) },
      0,
    );
  });

  it('lets S3 Batch Operations invoke the function, read manifests and write reports, nothing else', () => {
    const { template } = build({ backfillBucketName: 'ops-bucket', backfillPrefix: 'tw/backfill' });
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: Match.objectLike({ Statement: [Match.objectLike({ Principal: { Service: 'batchoperations.s3.amazonaws.com' } })] }) },
    });
    const [roleId] = Object.keys(roles);
    assert.ok(roleId, 'a role S3 Batch Operations can assume');
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } });
    const statements: { Sid: string; Action: string | string[]; Resource: unknown }[] =
      Object.values(policies)[0].Properties.PolicyDocument.Statement;
    const bySid = Object.fromEntries(statements.map((st) => [st.Sid, { actions: actionsOf(st), resource: JSON.stringify(st.Resource) }]));
    assert.deepEqual(Object.keys(bySid).sort(), ['InvokeFunction', 'ReadManifests', 'WriteReports']);
    assert.deepEqual(bySid.InvokeFunction.actions, ['lambda:InvokeFunction']);
    assert.match(bySid.InvokeFunction.resource, /"Fn::GetAtt":\["Function[0-9A-F]+","Arn"\]/);
    assert.deepEqual(bySid.ReadManifests.actions, ['s3:GetObject', 's3:GetObjectVersion']);
    assert.match(bySid.ReadManifests.resource, /:s3:::ops-bucket\/tw\/backfill\/manifests\/\*"/);
    assert.deepEqual(bySid.WriteReports.actions, ['s3:PutObject']);
    assert.match(bySid.WriteReports.resource, /:s3:::ops-bucket\/tw\/backfill\/job-\*"/);
    template.hasOutput('BackfillReportLocation', { Value: 's3://ops-bucket/tw/backfill' });
    template.hasOutput('BackfillJobRoleArn', {});
    template.hasOutput('FunctionArn', {});
  });

  it('refuses a prefix with a trailing slash', () => {
    assert.throws(() => resolveSettings({ backfillBucketName: 'ops-bucket', backfillPrefix: 'tw/' }), /backfillPrefix/);
  });
});

describe('cdk-nag', () => {
  it('fails the synth on a new wildcard grant nobody answered', () => {
    assert.throws(
      () =>
        build({}, (stack) =>
          stack.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] })),
        ),
      /Validation failed/,
    );
  });
});

describe('tuning file source', () => {
  const statementFor = (template: Template, sid: string) =>
    functionStatements(template).find((st) => st.Sid === sid);

  it('grants s3:GetObject on exactly the configured object and alarms on failed reloads', () => {
    const { template } = build({ configSource: 's3://cfg-bucket/trailwatch/prod.yml' });
    const read = statementFor(template, 'ReadConfigObject');
    assert.ok(read, 'a statement for the object');
    assert.deepEqual(actionsOf(read), ['s3:GetObject']);
    assert.match(JSON.stringify(read.Resource), /:s3:::cfg-bucket\/trailwatch\/prod\.yml"/);
    assert.equal(statementFor(template, 'ReadConfigParameter'), undefined);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { TRAILWATCH_CONFIG: 's3://cfg-bucket/trailwatch/prod.yml', CONFIG_RELOAD_SECONDS: '300' } },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'trailwatch', MetricName: 'ConfigReloadFailed', Threshold: 1,
    });
  });

  it('grants ssm:GetParameter on exactly the configured parameter', () => {
    const { template } = build({ configSource: 'ssm:/trailwatch/config', configReloadSeconds: 0 });
    const read = statementFor(template, 'ReadConfigParameter');
    assert.ok(read, 'a statement for the parameter');
    assert.deepEqual(actionsOf(read), ['ssm:GetParameter']);
    assert.match(JSON.stringify(read.Resource), /:parameter\/trailwatch\/config"/);
    assert.equal(statementFor(template, 'ReadConfigObject'), undefined);
  });

  it('grants nothing and has no reload alarm without a source', () => {
    const { template } = build();
    assert.equal(statementFor(template, 'ReadConfigObject'), undefined);
    assert.equal(statementFor(template, 'ReadConfigParameter'), undefined);
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'ConfigReloadFailed' }, 0);
  });

  it('refuses a source the stacks cannot grant', () => {
    assert.throws(() => resolveSettings({ configSource: 's3://bucket-only' }), /configSource/);
    assert.throws(() => resolveSettings({ configSource: 'ssm:relative' }), /configSource/);
    assert.throws(() => resolveSettings({ configSource: 's3://b/prefix/*' }), /configSource/);
    assert.throws(() => resolveSettings({ configReloadSeconds: -1 }), /configReloadSeconds/);
  });
});

describe('settings', () => {
  it('rejects what the function or AWS would refuse, naming the setting', () => {
    assert.throws(() => resolveSettings({ ingestionMode: 'existing-bucket' }), /existingTrailBucketName/);
    assert.throws(() => resolveSettings({ trustedAccounts: ['12345'] }), /trustedAccounts/);
    assert.throws(() => resolveSettings({ trustedOrganizations: ['o-x'] }), /trustedOrganizations/);
    assert.doesNotThrow(() => resolveSettings({ trustedOrganizations: ['o-a1b2c3d4e5/r-ab12/ou-ab12-11111111'] }));
    assert.throws(() => resolveSettings({ disabledRules: ['no-such-rule'] }), /disabledRules/);
    assert.throws(() => resolveSettings({ trailKmsKeyArn: 'alias/trail' }), SettingsError);
    assert.throws(() => resolveSettings({ logPrefix: 'AWSLogs/*' }), /logPrefix/);
    assert.throws(() => settingsFromContext((k) => (k === 'memorySize' ? 'lots' : undefined)), /memorySize/);
  });

  it('never lets the queue give up on a message while a killed run still holds its claims', () => {
    // Issue 8.2: with a fixed 300 s lease, a 1 s timeout gave a 36 s visibility timeout and a
    // last redelivery at 144 s, long before the lease ended. Claims now end a margin after
    // the invocation's deadline; every accepted timeout must keep them inside the redrive.
    assert.equal(LEASE_MARGIN_SECONDS, 30, 'same margin as src/lambda/delivery.rs');
    for (let timeout = 1; timeout <= 900; timeout++) {
      const { leaseEnds, lastRedelivery } = leaseAndLastRedelivery(timeout);
      assert.ok(leaseEnds < lastRedelivery, `timeout ${timeout} s: lease ends ${leaseEnds} s, last redelivery ${lastRedelivery} s`);
      assert.equal(resolveSettings({ timeoutSeconds: timeout }).timeoutSeconds, timeout);
    }
    const rust = fs.readFileSync(path.join(__dirname, '..', '..', '..', '..', 'src', 'lambda', 'delivery.rs'), 'utf8');
    assert.match(rust, new RegExp(`LEASE_MARGIN: Duration = Duration::from_secs\\(${LEASE_MARGIN_SECONDS}\\)`));
  });

  it('reads lists and numbers from context strings', () => {
    const s = settingsFromContext((k) => ({ trustedAccounts: '111122223333, 444455556666', memorySize: '1024' } as Record<string, string>)[k]);
    assert.deepEqual(s.trustedAccounts, ['111122223333', '444455556666']);
    assert.equal(s.memorySize, 1024);
  });

  it('never packages a stand-in function unless asked to', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'trailwatch-empty-'));
    assert.throws(() => resolveFunctionAsset({ assetPath: empty, repoRoot: empty, allowPlaceholder: false }), /make build/);
    assert.equal(resolveFunctionAsset({ assetPath: empty, repoRoot: empty, allowPlaceholder: true }).placeholder, true);
  });
});
