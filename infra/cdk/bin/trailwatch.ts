#!/usr/bin/env node
// cdk app entry: settings from context (`-c name=value`), the function from the cargo-lambda
// build, and cdk-nag's AwsSolutions pack over everything.

import * as path from 'path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { resolveFunctionAsset } from '../lib/asset';
import { settingsFromContext } from '../lib/config';
import { TrailwatchStack } from '../lib/stack';

const app = new App();
const settings = settingsFromContext((key) => app.node.tryGetContext(key));
const asset = resolveFunctionAsset({
  assetPath: app.node.tryGetContext('assetPath'),
  repoRoot: path.resolve(__dirname, '..', '..', '..', '..'),
  allowPlaceholder: String(app.node.tryGetContext('placeholderAsset')) === 'true',
});
new TrailwatchStack(app, String(app.node.tryGetContext('stackName') ?? 'trailwatch'), {
  settings,
  assetDirectory: asset.directory,
  description: 'trailwatch: real-time detection of risky changes from CloudTrail logs',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
