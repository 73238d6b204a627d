import { revealHidden } from '../text';

/** Every effect line the signature covers: what the owner approves. All of them, never truncated. */
export function EffectTable({ effect }: { effect: Array<[string, string]> }) {
  return (
    <section className="effect" aria-labelledby="effect-heading">
      <h3 id="effect-heading">What approving does</h3>
      {effect.length === 0 ? (
        <p className="notice notice-error">The server listed no effect for this request.</p>
      ) : (
        <table data-testid="effect-table">
          <tbody>
            {effect.map(([label, value], index) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: a label may repeat (several recipients)
              <tr key={index} data-testid="effect-row">
                <th scope="row">{revealHidden(label)}</th>
                <td>{revealHidden(value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
