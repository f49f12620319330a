import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag 3 reads acknowledgements recorded with CDK's `Validations.of(scope).acknowledge()` on the resource or any
 * of its parents. A rule that reports several findings (IAM5) is acknowledged finding by finding, as
 * `AwsSolutions-IAM5[Resource::<flattened ARN>]`; the helpers below build those ids from the same tokens the
 * policy uses, so a suppression cannot silently cover a different resource.
 */
export function acknowledge(scope: IConstruct, reason: string, ...ruleIds: string[]): void {
  for (const id of ruleIds) Validations.of(scope).acknowledge({ id, reason });
}

/** The IAM5 finding for a wildcard resource (an ARN string or token, e.g. `bucket.arnForObjects('inbox/*')`). */
export function wildcardResource(scope: IConstruct, resource: string): string {
  return `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(resource))}]`;
}

/** The IAM5 finding for a wildcard action such as `s3:Abort*`. */
export function wildcardAction(action: string): string {
  return `AwsSolutions-IAM5[Action::${action}]`;
}

/** Same flattening as cdk-nag's IAM5 rule: `{Ref: X}` -> `<X>`, `{Fn::GetAtt: [X, Arn]}` -> `<X.Arn>`. */
function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const record = node as Record<string, unknown>;
    const join = record['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if ('Fn::Sub' in record) return flatten(record['Fn::Sub']);
    const getAtt = record['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${flatten(getAtt[0])}.${flatten(getAtt[1])}>`;
    if ('Fn::ImportValue' in record) return flatten(record['Fn::ImportValue']);
    if ('Ref' in record) return `<${flatten(record.Ref)}>`;
  }
  return JSON.stringify(node);
}
