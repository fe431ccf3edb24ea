// Server -> Client, transaction pooling: an OK's session-state block as the client's own
// session would have written it. The proxy turns every tracker on for a pooled
// connection (session_track_system_variables='*', session_track_state_change=ON), so an
// OK reports more than a client that negotiated CLIENT_SESSION_TRACK gets from a server
// directly, whose session starts with the server's global tracker settings (MariaDB
// 10.11 by default: five variables, the schema, no state change). sessionStateAs()
// keeps what those settings report; when nothing is left, the OK is what the server
// writes when no tracker it runs saw a change (withoutSessionState). Variables keep the
// compute's order: a server writes them in the order of a hash of its own pointers,
// which differs from one mariadbd process to the next, so no order is the right one.
// https://mariadb.com/kb/en/ok_packet/#session-change-type
import { PacketReader } from './packet-reader.js';
import { PacketWriter } from './packet-writer.js';
import { ProtocolError } from './protocol-error.js';
import { SESSION_TRACK_SCHEMA, SESSION_TRACK_STATE_CHANGE, SESSION_TRACK_SYSTEM_VARIABLES, withoutSessionState } from './session-state.js';

/** The trackers a client's own session runs: what it would be told. */
export interface TrackerView {
  /** session_track_system_variables, lowercased; null for '*' (every variable). */
  variables: string[] | null;
  schema: boolean;
  stateChange: boolean;
}

/**
 * A view from the server's settings as SELECT answers them (`@@GLOBAL.session_track_*`:
 * the list as text, the switches as 1/0 or ON/OFF). Anything else fails: the proxy
 * would not know what the client is owed.
 */
export function trackerView(systemVariables: string, schema: string, stateChange: string): TrackerView {
  const names = systemVariables.split(',').map((n) => n.trim().toLowerCase()).filter((n) => n !== '');
  return { variables: names.includes('*') ? null : names, schema: onOff(schema, 'session_track_schema'), stateChange: onOff(stateChange, 'session_track_state_change') };
}

/**
 * `view` after the client set one of its trackers (`name` as the compute reports it, the
 * value as it reports it): a new view, or `view` itself for a variable that is no
 * tracker `view` describes.
 */
export function withTracker(view: TrackerView, name: string, value: string): TrackerView {
  if (name === 'session_track_system_variables') return { ...view, variables: trackerView(value, '0', '0').variables };
  if (name === 'session_track_schema') return { ...view, schema: onOff(value, name) };
  if (name === 'session_track_state_change') return { ...view, stateChange: onOff(value, name) };
  return view;
}

function onOff(value: string, name: string): boolean {
  if (value === '1' || value === 'ON') return true;
  if (value === '0' || value === 'OFF') return false;
  throw new ProtocolError(`trackerView: ${name} is ${JSON.stringify(value)}`);
}

interface Entry {
  type: number;
  /** A system variable's name, lowercased ('' for other types). */
  name: string;
  start: number;
  end: number;
}

/**
 * The OK in buf[start, end) (flagged, its block at `stateAt`, from okLayout) as a client
 * whose session runs `view` gets it: a new payload, or null when it is already that.
 * Entries of types the proxy never turns on (GTIDs, transaction state) are the
 * client's own doing and go as they came.
 */
export function sessionStateAs(buf: Buffer, start: number, end: number, stateAt: number, view: TrackerView): Buffer | null {
  const r = new PacketReader(buf.subarray(0, end), stateAt, 'session state');
  const total = r.lenencInt('block length');
  const blockStart = r.offset;
  if (blockStart + total > end) throw r.error('truncated block');
  const entries: Entry[] = [];
  while (r.offset < blockStart + total) {
    const entryAt = r.offset;
    const type = r.u8('entry type');
    const length = r.lenencInt('entry length');
    const entryStart = r.offset;
    if (entryStart + length > blockStart + total) throw r.error(`truncated entry of type ${type}`);
    const name = type === SESSION_TRACK_SYSTEM_VARIABLES ? r.lenencString('variable name').toLowerCase() : '';
    r.offset = entryStart + length;
    entries.push({ type, name, start: entryAt, end: r.offset });
  }
  const kept = keptEntries(entries, view);
  if (kept.length === entries.length) return null;
  // No tracker of the client's saw a change: what the server writes then (no block, the flag cleared, an empty info left out).
  if (kept.length === 0) return withoutSessionState(buf, start, end);
  const w = new PacketWriter(stateAt - start + (end - stateAt) + 9);
  w.bytes(buf.subarray(start, stateAt));
  const block = Buffer.concat(kept.map((e) => buf.subarray(e.start, e.end)));
  return w.lenencString(block).payload();
}

/** The entries `view` reports, in the order they came. */
function keptEntries(entries: Entry[], view: TrackerView): Entry[] {
  const { variables } = view;
  return entries.filter((e) => {
    if (e.type === SESSION_TRACK_SYSTEM_VARIABLES) return variables === null || variables.includes(e.name);
    if (e.type === SESSION_TRACK_SCHEMA) return view.schema;
    if (e.type === SESSION_TRACK_STATE_CHANGE) return view.stateChange;
    return true;
  });
}
