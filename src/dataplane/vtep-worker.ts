/**
 * A worker thread of a multi-queue userspace VTEP (vtep-runtime.ts starts
 * it). It owns one TAP queue fd and one SO_REUSEPORT socket, opened by the
 * main thread, and runs a VtepDataPath on its own event loop. Its
 * forwarding and proxy tables are copies: the main thread sends every
 * change as a message, and counters go back through shared memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { TapDevice } from '../io/tap.js';
import { UdpSocket } from '../io/udp.js';
import { macBytes } from '../wire/bytes.js';
import { VtepDataPath } from './vtep-datapath.js';
import { counterRow } from './vtep-counters.js';
import { buildTables, type FdbOp, type WorkerInit, type WorkerMessage } from './vtep-tables.js';

const init = workerData as WorkerInit;
const { engine, table, responder } = buildTables(init.config);
for (const mac of init.localMacs) engine.addLocalMac(macBytes(mac));
const tap = TapDevice.fromFd(init.tapFd, init.tapName, { batch: init.batch, slotSize: init.tapSlot, vnetHeader: init.vnetHeader });
const udp = UdpSocket.fromFd(init.udpFd, init.family, { batchSize: init.batch, slotSize: init.udpSlot });
if (init.offload.udpGro) udp.setGro(true);
const u = init.underlay;
const underlay = u ? { tap: TapDevice.fromFd(u.fd, u.name, { batch: 1, slotSize: 64, vnetHeader: true }), mac: macBytes(u.mac), local: u.local, port: u.port } : undefined;
const path = new VtepDataPath(engine, responder, tap, udp, init.batch, init.offload, underlay, counterRow(init.counters, init.index));
path.start();
path.publishNow();

function applyFdb(op: FdbOp): void {
  const fdb = engine.fdb;
  switch (op.method) {
    case 'addEntry': fdb.addEntry(op.args[0], op.args[1]); break;
    case 'replaceEntry': fdb.replaceEntry(op.args[0], op.args[1]); break;
    case 'removeEntry': fdb.removeEntry(op.args[0]); break;
    case 'addPeer': fdb.addPeer(op.args[0]); break;
    case 'removePeer': fdb.removePeer(op.args[0]); break;
    case 'setFloodList': fdb.setFloodList(op.args); break;
  }
}

parentPort!.on('message', (m: WorkerMessage) => {
  if (m.op === 'fdb') applyFdb(m.fdb);
  else if (m.op === 'proxySet') {
    const r = table.set(m.ip, m.mac);
    if (m.announce && r !== 'unchanged') path.writeScratch(responder.announce(m.ip, path.scratch, path.vnetHdrLen));
    path.publishNow();
  } else if (m.op === 'proxyDelete') table.delete(m.ip);
  else if (m.op === 'close') {
    path.close();
    parentPort!.postMessage({ op: 'closed' });
    parentPort!.close();
  }
});
parentPort!.postMessage({ op: 'ready' });
