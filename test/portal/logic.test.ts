import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { approvalCount, approvalsSinceEntered, describeNeeded, minimumApprovals, parseApprovals } from '../../src/portal/app/src/approvals.ts';
import { describeFlow, formatParameter, layoutDiagram, parseParameter, planImport, startStep, versionSummary, type DiagramStep } from '../../src/portal/app/src/definition.ts';
import { charCount, limitAnnouncement } from '../../src/portal/app/src/format.ts';
import { P, abilities, grants } from '../../src/portal/app/src/perms.ts';
import { INSTANCE_QUERY_FIELDS, SORT_FIELDS, buildQuery, clause, quote } from '../../src/portal/app/src/query.ts';
import { INSTANCE_FIELDS } from '../../src/store/query-fields.ts';
import { P as SERVER_P } from '../../src/security/permissions.ts';
import { parseQuery } from '../../src/domain/query/index.ts';
import { EXPORTS_DIR } from '../fixtures/paths.ts';

/** The portal's logic without a browser. */

describe('approvals still needed', () => {
  it('reads the count from the status message', () => {
    expect(parseApprovals('Waiting for approval at PKI approval: 1 of 2 approvals received.')).toEqual({ received: 1, required: 2 });
    expect(parseApprovals('Approved at X (3 of 3 approvals).')).toEqual({ received: 3, required: 3 });
    expect(parseApprovals('Denied at X (1 of 1 denials).')).toBeNull();
    expect(parseApprovals(null)).toBeNull();
  });

  it('computes it from the step configuration and the history of the current visit', () => {
    const h = (Kind: string, Actor: string | null, Approved?: boolean | string) => ({
      At: '',
      Kind,
      Step: 'R1',
      Actor,
      Message: '',
      Data: Approved === undefined ? null : { Approved },
    });
    const history = [
      h('StepEntered', null),
      h('SignalReceived', 'A', true),
      h('StepEntered', null),
      h('SignalReceived', 'A', true),
      h('SignalReceived', 'b', 'True'),
      h('SignalReceived', 'a', true),
      h('SignalReceived', 'C', false),
    ];
    expect(approvalsSinceEntered(history, 'R1')).toBe(2);
    expect(minimumApprovals({ MinimumApprovals: 3 })).toBe(3);
    expect(minimumApprovals({ MinimumApprovals: '2' })).toBe(2);
    expect(minimumApprovals({})).toBe(1);
    expect(approvalCount('Something else', { uniqueName: 'R1', config: { MinimumApprovals: 3 } }, history)).toEqual({ received: 2, required: 3 });
    expect(describeNeeded({ received: 2, required: 3 })).toBe('1 more (2 of 3)');
    expect(describeNeeded({ received: 3, required: 3 })).toBe('None (3 of 3)');
  });
});

describe('the query form', () => {
  it('writes clauses joined with AND, quoting and escaping strings', () => {
    expect(
      buildQuery([
        { field: 'Status', op: 'eq', value: 'Suspended' },
        { field: 'Title', op: 'contains', value: 'say "hi" \\ bye' },
        { field: 'ReferenceId', op: 'ge', value: '12' },
        { field: 'StartDate', op: 'ge', value: '2026-01-31' },
        { field: 'InitiatingUserName', op: 'eq', value: '' },
      ]),
    ).toBe('Status -eq Suspended AND Title -contains "say \\"hi\\" \\\\ bye" AND ReferenceId -ge 12 AND StartDate -ge "2026-01-31"');
    expect(clause({ field: 'Title', op: 'gt', value: 'x' })).toBe('Title -contains "x"'); // an operator the type lacks falls back
    expect(quote('CORP\\alice')).toBe('"CORP\\\\alice"');
  });

  it("produces what the server's parser reads back", () => {
    const q = buildQuery([
      { field: 'Title', op: 'contains', value: 'a "quoted" CORP\\alice' },
      { field: 'Status', op: 'ne', value: 'CanceledForRestart' },
    ]);
    const ast = parseQuery(q) as unknown as { op: string; left: { value: string }; right: { value: string } };
    expect(JSON.stringify(ast)).toContain('a \\"quoted\\" CORP\\\\alice');
  });
});

describe('permissions', () => {
  it('match the server: a shorter string grants what is below it', () => {
    expect(P).toEqual(SERVER_P);
    expect(grants(['/workflows/'], P.instancesManage)).toBe(true);
    expect(grants([P.instancesReadPending], P.instancesReadAll)).toBe(false);
    expect(abilities(['/'])).toEqual({
      inbox: true,
      mine: true,
      instances: true,
      manage: true,
      restart: true,
      definitionsRead: true,
      definitionsModify: true,
      securityRead: true,
      securityModify: true,
      enrollCsr: true,
      enrollPfx: true,
      certificates: true,
      certificatesAll: true,
      acme: true,
      casModify: true,
    });
    // A requester enrolls and sees only their own certificates; Read alone lists all, enrolls nothing.
    expect(abilities([P.enrollCsr])).toMatchObject({ enrollCsr: true, enrollPfx: false, certificates: true, certificatesAll: false });
    expect(abilities(['/certificates/enrollment/'])).toMatchObject({ enrollCsr: true, enrollPfx: true });
    expect(abilities([P.certificatesRead])).toMatchObject({ enrollCsr: false, enrollPfx: false, certificates: true, certificatesAll: true });
    expect(abilities([P.instancesStart, P.instancesReadMine])).toMatchObject({ inbox: false, mine: true, instances: false, definitionsRead: false, securityRead: false });
    expect(abilities([P.instancesManage])).toMatchObject({ manage: true, restart: false });
  });
});

describe('the comment limit', () => {
  it('counts code points as the server does, and announces only near the limit', () => {
    expect(charCount('😀😀')).toBe(2);
    expect(limitAnnouncement(10)).toBe('');
    expect(limitAnnouncement(455)).toBe('At most 50 characters left.');
    expect(limitAnnouncement(495)).toBe('At most 10 characters left.');
    expect(limitAnnouncement(500)).toBe('Limit of 500 characters reached.');
    expect(limitAnnouncement(501)).toBe('Over the 500-character limit.');
  });
});

describe('definitions', () => {
  const steps: DiagramStep[] = [
    { UniqueName: 'End', DisplayName: 'End', ExtensionName: 'NOOPStep', Enabled: true, Outputs: {} },
    { UniqueName: 'Start', DisplayName: 'Start', ExtensionName: 'NOOPStep', Enabled: true, Outputs: { continue: 'Approve' } },
    { UniqueName: 'Approve', DisplayName: 'Approve', ExtensionName: 'RequireApproval', Enabled: false, Outputs: { continue: 'End', retry: 'Approve', broken: 'Nowhere' } },
    { UniqueName: 'Orphan', DisplayName: null, ExtensionName: 'Email', Enabled: true, Outputs: {} },
  ];

  it('lays the diagram out in rows from the start step, with back edges and dangling outputs', () => {
    expect(startStep(steps)?.UniqueName).toBe('Start'); // the first step no output leads to
    const chain = steps.slice(1, 3).concat(steps[0]!);
    const layout = layoutDiagram(chain);
    const y = Object.fromEntries(layout.nodes.map((n) => [n.step.UniqueName, n.y]));
    expect(y.Start).toBeLessThan(y.Approve!);
    expect(y.Approve).toBeLessThan(y.End!);
    expect(layout.edges.map((e) => `${e.from}-${e.label}-${e.to}`).sort()).toEqual(['Approve-continue-End', 'Approve-retry-Approve', 'Start-continue-Approve']);
    expect(layout.dangling).toEqual([{ from: 'Approve', output: 'broken', target: 'Nowhere' }]);
    expect(describeFlow(chain)).toMatch(/^Starts at Start\. .*Approve \(RequireApproval, disabled\) on continue goes to End/);
    const withOrphan = layoutDiagram([...chain, steps[3]!]);
    expect(withOrphan.nodes.find((n) => n.step.UniqueName === 'Orphan')!.level).toBe(3);
  });

  it('imports every export fixture into the two calls that recreate it', () => {
    const dir = EXPORTS_DIR;
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files).toHaveLength(6);
    for (const f of files) {
      const text = readFileSync(`${dir}/${f}`, 'utf8');
      const doc = JSON.parse(text);
      const plan = planImport(text);
      expect(plan.create).toEqual({ DisplayName: doc.DisplayName, Description: doc.Description, WorkflowType: doc.WorkflowType, Key: doc.Key, Enabled: doc.Enabled ?? true });
      expect(plan.steps).toHaveLength(doc.Steps.length);
      for (const s of plan.steps) expect(s).not.toHaveProperty('Id');
      expect(plan.steps.map((s) => s.Outputs)).toEqual(doc.Steps.map((s: { Outputs: unknown }) => s.Outputs));
    }
  });

  it('accepts version-2 signal roles and a new name; refuses what is not a definition', () => {
    const plan = planImport(
      JSON.stringify({
        DisplayName: 'X',
        WorkflowType: 'Enrollment',
        Keys: [{ Value: '3' }],
        Steps: [
          {
            UniqueName: 'A',
            ExtensionName: 'RequireApproval',
            Signals: [{ SignalName: 'ApprovalStatus', Roles: [{ RoleId: '4', RoleName: 'R' }] }],
            Conditions: [{ Id: 'x', Value: 'true' }],
          },
        ],
      }),
      'Renamed',
    );
    expect(plan.create).toMatchObject({ DisplayName: 'Renamed', Key: '3' });
    expect(plan.steps[0]).toMatchObject({ Signals: [{ SignalName: 'ApprovalStatus', RoleIds: [4], RoleTokens: [] }], Conditions: [{ Value: 'true' }], Enabled: true });
    expect(() => planImport('nope')).toThrow(/not JSON/);
    expect(() => planImport('[]')).toThrow(/one exported definition/);
    expect(() => planImport('{"DisplayName":"x","WorkflowType":"Enrollment"}')).toThrow(/Steps/);
  });

  it('turns parameter fields into configuration values by Keyfactor parameter type', () => {
    expect(parseParameter(1, ' 3 ')).toBe(3);
    expect(() => parseParameter(1, 'three')).toThrow(/whole number/);
    expect(parseParameter(3, 'a\n\n b \n')).toEqual(['a', 'b']);
    expect(parseParameter(4, '{"k":"v"}')).toEqual({ k: 'v' });
    expect(() => parseParameter(6, '{')).toThrow(/JSON/);
    expect(parseParameter(0, ' text ')).toBe(' text ');
    expect(formatParameter(3, ['a', 'b'])).toBe('a\nb');
    expect(formatParameter(1, 2)).toBe('2');
    expect(formatParameter(0, null)).toBe('');
  });
});

describe('definition versions in words', () => {
  it('names one version when the newest is the published one, and a draft only when there is one', () => {
    expect(versionSummary({ DraftVersion: 1, PublishedVersion: 1 })).toBe('Version 1 (published)');
    expect(versionSummary({ DraftVersion: 1, PublishedVersion: null })).toBe('Version 1, a draft (not yet published)');
    expect(versionSummary({ DraftVersion: 3, PublishedVersion: 2 })).toBe('Version 2 published; version 3 is a draft with unpublished changes');
  });
});

describe('sort fields', () => {
  it('are query fields with the same labels, each one the API accepts', () => {
    expect(SORT_FIELDS.map((f) => f.label)).toEqual(['Title', 'Status', 'Requester', 'Current step', 'Workflow type', 'Started', 'Last modified', 'Reference id']);
    for (const f of SORT_FIELDS) {
      expect(INSTANCE_QUERY_FIELDS).toContain(f);
      expect(INSTANCE_FIELDS.map((x) => x.name)).toContain(f.name);
    }
  });
});
