/**
 * The one error type for malformed or unrepresentable wire data. Its message names
 * the packet and field that could not be read or written, so a log line alone tells
 * which side sent what. It never carries a MySQL error code: deciding what the client
 * is told is the session's job, not the codec's.
 */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}
