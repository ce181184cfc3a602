/**
 * Typed failures of rtnetlink operations. Each names the object (link,
 * address, route, neighbour, FDB entry, namespace) so a caller can branch on
 * `code` and an operator can read the message. Kernel errors that have no
 * better meaning stay NetlinkError (code = errno name).
 */
import { WeftError } from '../../errors.js';
import { NetlinkError } from '../errors.js';

export { NetnsNotFoundError } from '../../io/netns.js';

/** A link with this name already exists (EEXIST on create). */
export class LinkExistsError extends WeftError {
  readonly link: string;
  readonly netns: string | undefined;
  constructor(link: string, netns?: string) {
    super('ELINKEXISTS', `link ${link}${where(netns)} already exists`);
    this.link = link;
    this.netns = netns;
  }
}

/** The link, or one it refers to (parent, master, peer), does not exist. */
export class LinkNotFoundError extends WeftError {
  readonly link: string;
  readonly role: 'link' | 'parent' | 'master' | 'device';
  readonly netns: string | undefined;
  constructor(link: string, role: LinkNotFoundError['role'] = 'link', netns?: string, subject?: string) {
    const about = subject ? ` (for ${subject})` : '';
    super('ELINKNOTFOUND', `${role === 'link' ? 'link' : `${role} link`} ${link}${where(netns)} does not exist${about}`);
    this.link = link;
    this.role = role;
    this.netns = netns;
  }
}

/** A link setting is out of range or refused by the kernel (VNI, VLAN id, MTU, mode ...). */
export class LinkConfigError extends WeftError {
  readonly link: string;
  readonly field: string;
  constructor(link: string, field: string, reason: string, options?: { cause?: unknown }) {
    super('ELINKCONFIG', `link ${link}: ${field} ${reason}`, options);
    this.link = link;
    this.field = field;
  }
}

/**
 * An address, route, neighbour or FDB entry operation that was refused:
 * by the kernel (`errno` = its errno name, cause = the NetlinkError) or
 * before it was sent (bad input, `errno` = EINVAL).
 */
export class RtnlObjectError extends WeftError {
  readonly object: string;
  readonly errno: string;
  constructor(code: 'EADDR' | 'EROUTE' | 'ENEIGH' | 'EFDB', object: string, cause: NetlinkError | string) {
    const reason = typeof cause === 'string' ? cause : `${cause.code}${cause.extackMessage ? `: ${cause.extackMessage}` : ''}`;
    super(code, `${object}: ${reason}`, typeof cause === 'string' ? undefined : { cause });
    this.object = object;
    this.errno = typeof cause === 'string' ? 'EINVAL' : cause.code;
  }
}

function where(netns: string | undefined): string {
  return netns ? ` in netns ${netns}` : '';
}

/** True for a NetlinkError with one of these errno names. */
export function isErrno(err: unknown, ...codes: string[]): err is NetlinkError {
  return err instanceof NetlinkError && codes.includes(err.code);
}
