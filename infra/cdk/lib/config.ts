// The stack's settings: the CDK counterpart of infra/template.yaml's parameters, read from
// context (`cdk deploy -c name=value`) and checked before anything is synthesized, so a typo fails
// `cdk synth` with the setting's name instead of a half-made deployment.

export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const RULE_IDS = [
  's3-bucket-policy-shared-externally',
  's3-bucket-config-modified',
  'resource-shared-with-external-account',
  's3-object-encrypted-with-external-kms-key',
  'iam-role-trusts-external-principal',
  's3-public-access-block-weakened',
  'database-made-publicly-accessible',
] as const;

export const INGESTION_MODES = ['new-trail', 'existing-bucket', 'existing-trail-topic'] as const;
export type IngestionMode = (typeof INGESTION_MODES)[number];

/** Log retention values CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

export interface TrailwatchSettings {
  /** How trail logs reach the function (see infra/README.md). */
  readonly ingestionMode: IngestionMode;
  /** existing-bucket / existing-trail-topic: the trail's bucket. */
  readonly existingTrailBucketName?: string;
  /** existing-trail-topic: the trail's SNS topic. */
  readonly existingTrailTopicArn?: string;
  /** KMS key of an existing SSE-KMS trail. */
  readonly trailKmsKeyArn?: string;
  /** Key prefix of the log objects; the function may read nothing else in the bucket. */
  readonly logPrefix: string;
  /** new-trail: days before log objects move to Glacier Instant Retrieval. */
  readonly logTransitionDays: number;
  /** new-trail: days before log objects expire. */
  readonly logExpirationDays: number;
  readonly trustedAccounts: string[];
  /** Organization ids or OU paths whose members may be shared with. */
  readonly trustedOrganizations: string[];
  readonly disabledRules: string[];
  readonly minSeverity: Severity;
  readonly enableDedupTable: boolean;
  /**
   * The tuning file (`TRAILWATCH_CONFIG`): a bundled path, `s3://bucket/key` or `ssm:/name`; the
   * function may read exactly that object or parameter.
   */
  readonly configSource?: string;
  /** How often the tuning file is re-read (0: only at cold start). */
  readonly configReloadSeconds: number;
  readonly alertEmail?: string;
  /** Lowest severity e-mailed; above info the subscription gets a filter policy. */
  readonly emailMinSeverity: Severity;
  /** Topic for the CloudWatch alarms; the alert topic when absent. */
  readonly opsTopicArn?: string;
  /** Create a second topic for AWS Chatbot / Amazon Q Developer custom notifications. */
  readonly chatTopic: boolean;
  /** Also import alerts into Security Hub (the account's default product) as ASFF findings. */
  readonly securityHub: boolean;
  readonly oldestMessageAgeAlarmSeconds: number;
  readonly memorySize: number;
  readonly timeoutSeconds: number;
  /** 0 leaves the function unreserved. */
  readonly reservedConcurrency: number;
  readonly maxConcurrentObjects: number;
  /** Most concurrent function instances the queue may drive (SQS event source maximum concurrency). */
  readonly maxConcurrency: number;
  readonly maxDecompressedBytes: number;
  readonly logLevel: string;
  readonly logRetentionDays: number;
  /** Bucket for `trailwatch backfill` manifests and reports; set, it adds the Batch Operations job role. */
  readonly backfillBucketName?: string;
  /** Key prefix in the backfill bucket: manifests under PREFIX/manifests/, reports under PREFIX/job-ID/. */
  readonly backfillPrefix: string;
}

export const DEFAULTS: TrailwatchSettings = {
  ingestionMode: 'new-trail',
  logPrefix: 'AWSLogs/',
  logTransitionDays: 90,
  logExpirationDays: 400,
  trustedAccounts: [],
  trustedOrganizations: [],
  disabledRules: [],
  minSeverity: 'info',
  enableDedupTable: true,
  configReloadSeconds: 300,
  // Everything but the info-level audit rule: share and encryption alerts, not config churn.
  emailMinSeverity: 'medium',
  chatTopic: false,
  securityHub: false,
  oldestMessageAgeAlarmSeconds: 900,
  memorySize: 512,
  timeoutSeconds: 120,
  reservedConcurrency: 0,
  maxConcurrentObjects: 4,
  maxConcurrency: 10,
  maxDecompressedBytes: 2 * 1024 * 1024 * 1024,
  logLevel: 'info',
  logRetentionDays: 90,
  backfillPrefix: 'trailwatch-backfill',
};

/** Severities at or above `min`, in order: the e-mail filter policy's allow list. */
export function severitiesAtOrAbove(min: Severity): Severity[] {
  return SEVERITIES.slice(SEVERITIES.indexOf(min));
}

/** Visibility timeout for the queue: 6x the function timeout (AWS guidance) + 30 s batching slack. */
export function visibilityTimeoutSeconds(functionTimeoutSeconds: number): number {
  return 6 * functionTimeoutSeconds + 30;
}

/** Deliveries of a log notification before it goes to the dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;
/** How long a dedup claim outlives its invocation's deadline: `LEASE_MARGIN` in src/lambda/delivery.rs. */
export const LEASE_MARGIN_SECONDS = 30;
/** The SQS batching window before an invocation starts. */
export const BATCHING_WINDOW_SECONDS = 5;

/**
 * Seconds after a first receive by which every claim its run made has ended, and after which
 * the last redelivery comes. A run killed after claiming leaves claims that only end with their
 * lease (deadline + margin); a redelivery that still finds them fails, and if the last one does,
 * the message goes to the dead-letter queue and its alerts are never published.
 */
export function leaseAndLastRedelivery(functionTimeoutSeconds: number): { leaseEnds: number; lastRedelivery: number } {
  return {
    leaseEnds: BATCHING_WINDOW_SECONDS + functionTimeoutSeconds + LEASE_MARGIN_SECONDS,
    lastRedelivery: (MAX_RECEIVE_COUNT - 1) * visibilityTimeoutSeconds(functionTimeoutSeconds),
  };
}

export class SettingsError extends Error {
  constructor(setting: string, problem: string) {
    super(`trailwatch setting ${setting}: ${problem}`);
    this.name = 'SettingsError';
  }
}

const ACCOUNT = /^[0-9]{12}$/;
/** An organization id, optionally followed by a root and OU path (as `TRUSTED_ORGANIZATIONS` takes). */
const ORGANIZATION = /^o-[a-z0-9]{10,32}(\/r-[a-z0-9]{4,32}(\/ou-[a-z0-9-]{4,68})*)?\/?$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]{1,256}$/;
/** The forms of `ConfigSource` the stacks grant access to (template.yaml's AllowedPattern). */
export const CONFIG_SOURCE = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[^*?]+$|^ssm:\/[a-zA-Z0-9_./-]+$|^[a-zA-Z0-9_./-]+$/;
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[a-f0-9-]{36}$/;

/** Fills defaults and rejects settings the function or AWS would refuse. */
export function resolveSettings(partial: Partial<TrailwatchSettings>): TrailwatchSettings {
  const defined = Object.fromEntries(
    Object.entries(partial).filter(([, v]) => v !== undefined && v !== ''),
  ) as Partial<TrailwatchSettings>;
  const s: TrailwatchSettings = { ...DEFAULTS, ...defined };

  if (!INGESTION_MODES.includes(s.ingestionMode)) {
    throw new SettingsError('ingestionMode', `must be one of ${INGESTION_MODES.join(', ')}`);
  }
  if (s.ingestionMode !== 'new-trail') {
    if (!s.existingTrailBucketName) {
      throw new SettingsError('existingTrailBucketName', `is required in ${s.ingestionMode} mode`);
    }
    if (!BUCKET.test(s.existingTrailBucketName)) {
      throw new SettingsError('existingTrailBucketName', `${s.existingTrailBucketName} is not a bucket name`);
    }
  }
  if (s.ingestionMode === 'existing-trail-topic' && !s.existingTrailTopicArn) {
    throw new SettingsError('existingTrailTopicArn', 'is required in existing-trail-topic mode');
  }
  if (s.existingTrailTopicArn && !TOPIC_ARN.test(s.existingTrailTopicArn)) {
    throw new SettingsError('existingTrailTopicArn', `${s.existingTrailTopicArn} is not an SNS topic ARN`);
  }
  if (s.trailKmsKeyArn && !KEY_ARN.test(s.trailKmsKeyArn)) {
    throw new SettingsError('trailKmsKeyArn', `${s.trailKmsKeyArn} is not a KMS key ARN`);
  }
  if (!/^[A-Za-z0-9!_.*'()/-]*$/.test(s.logPrefix) || s.logPrefix.includes('*')) {
    throw new SettingsError('logPrefix', `${s.logPrefix} is not a plain key prefix`);
  }
  if (s.configSource && !CONFIG_SOURCE.test(s.configSource)) {
    throw new SettingsError(
      'configSource',
      `${s.configSource} is not a bundled path, s3://bucket/key or ssm:/parameter/name`,
    );
  }
  if (s.backfillBucketName && !BUCKET.test(s.backfillBucketName)) {
    throw new SettingsError('backfillBucketName', `${s.backfillBucketName} is not a bucket name`);
  }
  if (!/^[A-Za-z0-9!_.'()-]+(\/[A-Za-z0-9!_.'()-]+)*$/.test(s.backfillPrefix)) {
    throw new SettingsError('backfillPrefix', `${s.backfillPrefix} is not a key prefix (no leading or trailing /)`);
  }
  if (s.opsTopicArn && !TOPIC_ARN.test(s.opsTopicArn)) {
    throw new SettingsError('opsTopicArn', `${s.opsTopicArn} is not an SNS topic ARN`);
  }
  for (const account of s.trustedAccounts) {
    if (!ACCOUNT.test(account)) {
      throw new SettingsError('trustedAccounts', `${account} is not a 12-digit account id`);
    }
  }
  for (const org of s.trustedOrganizations) {
    if (!ORGANIZATION.test(org)) {
      throw new SettingsError('trustedOrganizations', `${org} is not an organization id or OU path`);
    }
  }
  for (const rule of s.disabledRules) {
    if (!(RULE_IDS as readonly string[]).includes(rule)) {
      throw new SettingsError('disabledRules', `unknown rule ${rule} (rules: ${RULE_IDS.join(', ')})`);
    }
  }
  for (const [name, value] of [['minSeverity', s.minSeverity], ['emailMinSeverity', s.emailMinSeverity]]) {
    if (!(SEVERITIES as readonly string[]).includes(value)) {
      throw new SettingsError(name, `must be one of ${SEVERITIES.join(', ')}`);
    }
  }
  if (s.alertEmail && !/^[^@\s]+@[^@\s]+$/.test(s.alertEmail)) {
    throw new SettingsError('alertEmail', `${s.alertEmail} is not an e-mail address`);
  }
  const intIn = (name: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) {
      throw new SettingsError(name, `must be a whole number from ${lo} to ${hi}`);
    }
  };
  intIn('configReloadSeconds', s.configReloadSeconds, 0, 86400);
  intIn('memorySize', s.memorySize, 128, 10240);
  intIn('timeoutSeconds', s.timeoutSeconds, 1, 900);
  const { leaseEnds, lastRedelivery } = leaseAndLastRedelivery(s.timeoutSeconds);
  if (lastRedelivery <= leaseEnds) {
    throw new SettingsError(
      'timeoutSeconds',
      `the queue's last redelivery (${lastRedelivery} s) comes before a killed run's dedup claims end (${leaseEnds} s)`,
    );
  }
  intIn('reservedConcurrency', s.reservedConcurrency, 0, 10000);
  intIn('maxConcurrentObjects', s.maxConcurrentObjects, 1, 64);
  intIn('maxConcurrency', s.maxConcurrency, 2, 1000);
  intIn('maxDecompressedBytes', s.maxDecompressedBytes, 1048576, Number.MAX_SAFE_INTEGER);
  intIn('oldestMessageAgeAlarmSeconds', s.oldestMessageAgeAlarmSeconds, 60, 1209600);
  intIn('logTransitionDays', s.logTransitionDays, 30, 36500);
  intIn('logExpirationDays', s.logExpirationDays, s.logTransitionDays + 1, 36500);
  if (!(LOG_RETENTION_DAYS as readonly number[]).includes(s.logRetentionDays)) {
    throw new SettingsError('logRetentionDays', `must be one of ${LOG_RETENTION_DAYS.join(', ')}`);
  }
  if (!/^[A-Za-z0-9_,=:.-]+$/.test(s.logLevel)) {
    throw new SettingsError('logLevel', `${s.logLevel} is not a RUST_LOG filter`);
  }
  return s;
}

/** Reads settings from CDK context values (strings on the command line, any JSON in cdk.json). */
export function settingsFromContext(get: (key: string) => unknown): TrailwatchSettings {
  const str = (key: string): string | undefined => {
    const v = get(key);
    return v === undefined || v === null ? undefined : String(v).trim();
  };
  const num = (key: string): number | undefined => {
    const v = str(key);
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new SettingsError(key, `${v} is not a number`);
    return n;
  };
  const list = (key: string): string[] | undefined => {
    const v = get(key);
    if (v === undefined || v === null) return undefined;
    const items = Array.isArray(v) ? v.map(String) : String(v).split(',');
    return items.map((i) => i.trim()).filter((i) => i !== '');
  };
  const bool = (key: string): boolean | undefined => {
    const v = str(key);
    if (v === undefined || v === '') return undefined;
    if (v !== 'true' && v !== 'false') throw new SettingsError(key, 'must be true or false');
    return v === 'true';
  };
  return resolveSettings({
    ingestionMode: str('ingestionMode') as IngestionMode | undefined,
    existingTrailBucketName: str('existingTrailBucketName'),
    existingTrailTopicArn: str('existingTrailTopicArn'),
    trailKmsKeyArn: str('trailKmsKeyArn'),
    logPrefix: str('logPrefix'),
    logTransitionDays: num('logTransitionDays'),
    logExpirationDays: num('logExpirationDays'),
    trustedAccounts: list('trustedAccounts'),
    trustedOrganizations: list('trustedOrganizations'),
    disabledRules: list('disabledRules'),
    minSeverity: str('minSeverity') as Severity | undefined,
    enableDedupTable: bool('enableDedupTable'),
    configSource: str('configSource'),
    configReloadSeconds: num('configReloadSeconds'),
    alertEmail: str('alertEmail'),
    emailMinSeverity: str('emailMinSeverity') as Severity | undefined,
    opsTopicArn: str('opsTopicArn'),
    chatTopic: bool('chatTopic'),
    securityHub: bool('securityHub'),
    oldestMessageAgeAlarmSeconds: num('oldestMessageAgeAlarmSeconds'),
    memorySize: num('memorySize'),
    timeoutSeconds: num('timeoutSeconds'),
    reservedConcurrency: num('reservedConcurrency'),
    maxConcurrentObjects: num('maxConcurrentObjects'),
    maxConcurrency: num('maxConcurrency'),
    maxDecompressedBytes: num('maxDecompressedBytes'),
    logLevel: str('logLevel'),
    logRetentionDays: num('logRetentionDays'),
    backfillBucketName: str('backfillBucketName'),
    backfillPrefix: str('backfillPrefix'),
  });
}
