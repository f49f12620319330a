import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { describe, expect, it } from 'vitest';
import { PipelineFunction, UNUSED_CREDENTIAL_PROVIDERS } from '../../lib/pipeline-function';

describe('bundles leave out the credential providers Lambda never reaches', () => {
  it('keeps them as external imports, and the handler still finds its credentials in the environment', () => {
    // Bundled for real, as `cdk synth` does (the other infra tests skip bundling).
    const app = new App({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'credential-bundle-')) });
    const stack = new Stack(app, 'CredentialBundle');
    new PipelineFunction(stack, 'Record', { name: 'record', timeout: Duration.seconds(15) });
    const assembly = app.synth();
    const asset = stack.node.findChild('Record').node.findChild('Code') as Asset;
    const bundle = path.join(assembly.directory, asset.assetPath, 'index.mjs');
    try {
      const code = fs.readFileSync(bundle, 'utf8');
      for (const name of UNUSED_CREDENTIAL_PROVIDERS) expect(code).toContain(`import("${name}")`);
      // The STS client only those providers use (assume role, web identity) is not in the bundle.
      expect(code).not.toContain('AssumeRoleWithWebIdentity');

      // With the role's credentials in the environment, as Lambda sets them, the default chain finds them
      // (fromEnv) without loading any missing provider: the handler's first DynamoDB request is signed with them.
      const script = `
        import { createServer } from 'node:http';
        const seen = [];
        const server = createServer((req, res) => {
          seen.push(String(req.headers.authorization));
          res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
        });
        await new Promise((r) => server.listen(0, '127.0.0.1', r));
        process.env.AWS_ENDPOINT_URL_DYNAMODB = 'http://127.0.0.1:' + server.address().port;
        const { handler } = await import(process.env.ENTRY);
        await handler({ jobId: 'a'.repeat(32), attempt: 1 }, {}).catch(() => undefined);
        server.close();
        console.log(JSON.stringify(seen[0] ?? 'no request'));
      `;
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 60_000,
        env: {
          PATH: process.env.PATH ?? '',
          ENTRY: pathToFileURL(bundle).href,
          TABLE_NAME: 'jobs',
          MAX_CONCURRENT_TASKS: '5',
          WAITER_LAPSE_SECONDS: '300',
          AWS_REGION: 'us-east-1',
          AWS_MAX_ATTEMPTS: '1',
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'secret',
          AWS_SESSION_TOKEN: 'token',
        },
      });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|credential-provider/);
      expect(JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '""')).toContain('Credential=AKIDEXAMPLE/');
    } finally {
      fs.rmSync(assembly.directory, { recursive: true, force: true });
    }
  }, 120_000);
});
