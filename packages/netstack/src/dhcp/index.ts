/** DHCP: the server ({@link DhcpServer}) and the client ({@link DhcpClient}). */
export * from './server.js';
export * from './client.js';
export { sendRawUdp, type RawUdpAddressing } from './raw-udp.js';
