// The MySQL/MariaDB wire format as pure functions on Buffers: no sockets, no I/O.
export * from './protocol-error.js';
export * from './packet-reader.js';
export * from './packet-writer.js';
export * from './framing.js';
export * from './constants.js';
export * from './packets/greeting.js';
export * from './packets/handshake-response.js';
export * from './packets/ssl-request.js';
export * from './packets/auth-switch-request.js';
export * from './packets/auth-more-data.js';
export * from './packets/ok-packet.js';
export * from './packets/err-packet.js';
export * from './packets/eof-packet.js';
export * from './auth/native-password.js';
