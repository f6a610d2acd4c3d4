import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** Where `cargo lambda build --release --arm64` puts the function, relative to the repo root. */
export const BUILD_OUTPUT = path.join('target', 'lambda', 'trailwatch-lambda');

export interface AssetOptions {
  /** Directory holding `bootstrap`; relative paths are taken from `cwd`. */
  readonly assetPath?: string;
  /** Repository root, for the default asset path. */
  readonly repoRoot: string;
  /** Allow a stand-in `bootstrap` when the build is missing (synth and tests only). */
  readonly allowPlaceholder: boolean;
  readonly cwd?: string;
}

export interface ResolvedAsset {
  readonly directory: string;
  readonly placeholder: boolean;
}

/**
 * The directory to package as the function's code. A missing build is an error unless a
 * placeholder was asked for, so `cdk deploy` can never ship a stand-in by accident.
 */
export function resolveFunctionAsset(options: AssetOptions): ResolvedAsset {
  const directory = options.assetPath
    ? path.resolve(options.cwd ?? process.cwd(), options.assetPath)
    : path.join(options.repoRoot, BUILD_OUTPUT);
  if (fs.existsSync(path.join(directory, 'bootstrap'))) {
    return { directory, placeholder: false };
  }
  if (!options.allowPlaceholder) {
    throw new Error(
      `trailwatch: no Lambda build at ${path.join(directory, 'bootstrap')}. ` +
        "Run 'make build' at the repository root (cargo lambda build --release --arm64), " +
        'or pass -c assetPath=DIR for a build elsewhere. To synthesize without a build ' +
        '(checks, CI), pass -c placeholderAsset=true; never deploy that.',
    );
  }
  return { directory: makePlaceholderAsset(), placeholder: true };
}

/** A temporary directory with a stand-in `bootstrap` that fails loudly if it is ever run. */
export function makePlaceholderAsset(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trailwatch-asset-'));
  fs.writeFileSync(
    path.join(dir, 'bootstrap'),
    '#!/bin/sh\necho "trailwatch placeholder asset: build the function (make build) and redeploy" >&2\nexit 1\n',
    { mode: 0o755 },
  );
  return dir;
}
