/**
 * An XFRM netlink handle in one namespace: add/delete SAs and policies,
 * dump them. Requests never carry key bytes into error text (the `what`
 * strings name SPIs and addresses only).
 */
import { isErrno } from '../../errors.js';
import { NetlinkClient } from '../client.js';
import {
  NETLINK_XFRM, XFRM_MSG_DELPOLICY, XFRM_MSG_DELSA, XFRM_MSG_GETPOLICY, XFRM_MSG_GETSA, XFRM_MSG_NEWPOLICY,
  XFRM_MSG_NEWSA, XFRM_MSG_UPDPOLICY,
} from './constants.js';
import {
  type XfrmPolicy, type XfrmPolicyId, type XfrmPolicyInfo, type XfrmState, type XfrmStateId, type XfrmStateInfo,
  decodePolicy, decodeState, encodeNewState, encodePolicy, encodePolicyId, encodeStateId,
} from './messages.js';

const hex = (spi: number) => `0x${(spi >>> 0).toString(16).padStart(8, '0')}`;
const isMissing = (err: unknown) => isErrno(err, 'ENOENT', 'ESRCH');

export class Xfrm {
  private constructor(readonly client: NetlinkClient) {}

  static open(opts: { netns?: string; timeoutMs?: number } = {}): Xfrm {
    return new Xfrm(NetlinkClient.open(NETLINK_XFRM, opts));
  }

  close(): void {
    this.client.close();
  }

  async addState(s: XfrmState): Promise<void> {
    await this.client.request({
      type: XFRM_MSG_NEWSA, flags: 0, build: (w) => encodeNewState(w, s),
      what: `xfrm state add ${s.src} -> ${s.dst} spi ${hex(s.spi)}`,
    });
  }

  async deleteState(s: XfrmStateId, opts: { ignoreMissing?: boolean } = {}): Promise<void> {
    try {
      await this.client.request({ type: XFRM_MSG_DELSA, flags: 0, build: (w) => encodeStateId(w, s), what: `xfrm state delete ${s.src} -> ${s.dst} spi ${hex(s.spi)}` });
    } catch (err) {
      if (!(opts.ignoreMissing && isMissing(err))) throw err;
    }
  }

  async listStates(): Promise<XfrmStateInfo[]> {
    const msgs = await this.client.dump({ type: XFRM_MSG_GETSA, what: 'xfrm state dump' });
    return msgs.filter((m) => m.type === XFRM_MSG_NEWSA).map((m) => decodeState(m.payload));
  }

  /** NEWPOLICY (fails if present) or, with `replace`, UPDPOLICY (creates or replaces). */
  async putPolicy(p: XfrmPolicy, opts: { replace?: boolean } = {}): Promise<void> {
    await this.client.request({
      type: opts.replace ? XFRM_MSG_UPDPOLICY : XFRM_MSG_NEWPOLICY, flags: 0, build: (w) => encodePolicy(w, p),
      what: `xfrm policy ${opts.replace ? 'update' : 'add'} ${p.selector.src} -> ${p.selector.dst} spi ${hex(p.tmpl.spi)}`,
    });
  }

  async deletePolicy(p: XfrmPolicyId, opts: { ignoreMissing?: boolean } = {}): Promise<void> {
    try {
      await this.client.request({ type: XFRM_MSG_DELPOLICY, flags: 0, build: (w) => encodePolicyId(w, p), what: `xfrm policy delete ${p.selector.src} -> ${p.selector.dst}` });
    } catch (err) {
      if (!(opts.ignoreMissing && isMissing(err))) throw err;
    }
  }

  async listPolicies(): Promise<XfrmPolicyInfo[]> {
    const msgs = await this.client.dump({ type: XFRM_MSG_GETPOLICY, what: 'xfrm policy dump' });
    return msgs.filter((m) => m.type === XFRM_MSG_NEWPOLICY).map((m) => decodePolicy(m.payload));
  }
}
