import { UAParser } from "ua-parser-js";

/** A user agent as the Devices page shows it. */
export interface DeviceLabel {
  /** "Chrome 131", "Safari 17.4", or "Unknown browser". */
  browser: string;
  /** "Linux", "iOS 17.4", "Windows 10"... or "unknown OS". */
  os: string;
  /** "desktop", "mobile", "tablet"... */
  kind: string;
}

/** Parses a stored User-Agent header (any string, possibly hostile: callers still escape it). */
export function describeUserAgent(userAgent: string | null): DeviceLabel {
  if (!userAgent) return { browser: "Unknown browser", os: "unknown OS", kind: "unknown" };
  const result = UAParser(userAgent);
  const browser = result.browser.name
    ? `${result.browser.name}${result.browser.major ? ` ${result.browser.major}` : ""}`
    : "Unknown browser";
  const os = result.os.name ? `${result.os.name}${result.os.version ? ` ${result.os.version}` : ""}` : "unknown OS";
  // ua-parser leaves the device type empty for desktops; an unparsable agent is no desktop.
  const kind = result.device.type ?? (result.browser.name || result.os.name ? "desktop" : "unknown");
  return { browser, os, kind };
}

/** Node reports IPv4 clients of a dual-stack socket as "::ffff:1.2.3.4"; show the plain address. */
export function displayIp(ip: string | null): string {
  if (!ip) return "unknown";
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}
