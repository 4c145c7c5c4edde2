/** The routing error hierarchy. */

/** Base class of every error thrown by the routing core. */
export class RoutingError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Announcement bytes could not be decoded: size, version, length or field. */
export class AnnouncementDecodeError extends RoutingError {}
