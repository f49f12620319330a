import type { CfnResource, CfnValue, FunctionName, LocalAssembly } from '../../local/template.js';

/** What a test cuts from the template: an action of one principal's role, optionally on some resources only. */
export interface Cut {
  from: FunctionName | 'stateMachine';
  action: string;
  /** Only these resources (as resolved) lose the action; by default all of them. */
  resource?: (arn: string) => boolean;
}

/**
 * The assembly with `cut` taken out of the role's policies, as if the template had been written without it:
 * the action leaves every statement of the role that grants it (or, with `resource`, those resources leave it).
 */
export function withoutGrant(assembly: LocalAssembly, cut: Cut): LocalAssembly {
  const resources = structuredClone(assembly.resources);
  const owner =
    cut.from === 'stateMachine'
      ? Object.values(resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine')?.Properties
          ?.RoleArn
      : resources[assembly.functions[cut.from].logicalId]?.Properties?.Role;
  const roleId = (owner as { 'Fn::GetAtt': [string, string] } | undefined)?.['Fn::GetAtt'][0];
  if (!roleId) throw new Error(`No role found for ${cut.from}`);
  let cuts = 0;
  for (const r of Object.values(resources) as CfnResource[]) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const roles = (r.Properties?.Roles ?? []) as { Ref?: string }[];
    if (!roles.some((role) => role.Ref === roleId)) continue;
    const document = r.Properties?.PolicyDocument as { Statement: Record<string, CfnValue>[] };
    document.Statement = document.Statement.flatMap((statement) => {
      const actions = ([] as CfnValue[]).concat(statement.Action ?? []);
      if (!actions.includes(cut.action)) return [statement];
      cuts += 1;
      if (!cut.resource) {
        const left = actions.filter((a) => a !== cut.action);
        return left.length > 0 ? [{ ...statement, Action: left }] : [];
      }
      const keep = ([] as CfnValue[])
        .concat(statement.Resource ?? [])
        .filter((res) => !cut.resource?.(String(assembly.resolve(res))));
      return keep.length > 0 ? [{ ...statement, Resource: keep }] : [];
    });
  }
  if (cuts === 0) throw new Error(`${cut.from}'s role grants no ${cut.action}: nothing to cut`);
  return { ...assembly, resources };
}
