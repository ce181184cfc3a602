/** Where the daemon lives by default (shared with read-only CLI verbs, which must not load the daemon). */
export const DEFAULTS = {
  socket: '/run/docker/plugins/weft.sock',
  stateDir: '/var/lib/weft',
  store: 'embedded',
};
