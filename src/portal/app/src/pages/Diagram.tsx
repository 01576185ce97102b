import { useId } from 'react';
import { NODE_H, NODE_W, describeFlow, layoutDiagram, type DiagramStep } from '../definition.ts';

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** The steps as boxes and their outputs as labelled arrows; the text alternative describes the same flow. */
export function Diagram({ steps, label }: { steps: DiagramStep[]; label: string }) {
  const id = useId();
  if (steps.length === 0) return <p className="muted">This version has no steps yet.</p>;
  const layout = layoutDiagram(steps);
  return (
    <figure className="diagram">
      <svg
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        width={layout.width}
        height={layout.height}
        role="img"
        aria-labelledby={`${id}-t ${id}-d`}
        data-testid="definition-diagram"
      >
        <title id={`${id}-t`}>{label}</title>
        <desc id={`${id}-d`}>{describeFlow(steps)}</desc>
        <defs>
          <marker id={`${id}-arrow`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" className="dg-arrowhead" />
          </marker>
        </defs>
        {layout.edges.map((e) => (
          <g key={`${e.from}-${e.label}`} className="dg-edge">
            <path d={e.path} markerEnd={`url(#${id}-arrow)`} />
            <rect x={e.labelX - e.label.length * 3.6 - 6} y={e.labelY - 10} width={e.label.length * 7.2 + 12} height={20} rx={4} className="dg-label-bg" />
            <text x={e.labelX} y={e.labelY + 4} textAnchor="middle" className="dg-label">
              {e.label}
            </text>
          </g>
        ))}
        {layout.nodes.map((n) => (
          <g key={n.step.UniqueName} className={n.step.Enabled ? 'dg-node' : 'dg-node dg-disabled'} data-step={n.step.UniqueName}>
            <title>{`${n.step.DisplayName || n.step.UniqueName} (${n.step.UniqueName}, ${n.step.ExtensionName})`}</title>
            <rect x={n.x} y={n.y} width={NODE_W} height={NODE_H} rx={8} />
            <text x={n.x + 12} y={n.y + 26} className="dg-title">
              {clip(n.step.DisplayName || n.step.UniqueName, 26)}
            </text>
            <text x={n.x + 12} y={n.y + 48} className="dg-sub">
              {clip(`${n.step.ExtensionName}${n.step.Enabled ? '' : ' (disabled)'}`, 30)}
            </text>
          </g>
        ))}
      </svg>
      {layout.dangling.length ? (
        <figcaption className="alert alert-error">
          {layout.dangling.map((d) => (
            <span key={`${d.from}.${d.output}`}>
              Output “{d.output}” of {d.from} names a missing step “{d.target}”.{' '}
            </span>
          ))}
        </figcaption>
      ) : null}
    </figure>
  );
}
