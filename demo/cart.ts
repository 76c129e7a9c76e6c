/** One line of the cart, as the session stores it (a product snapshot, like real shops keep). */
export interface CartLine {
  sku: string;
  name: string;
  priceCents: number;
  options: string;
  addedAt: string;
}

export interface Product {
  sku: string;
  name: string;
  priceCents: number;
  options: string;
}

export const PRODUCTS: readonly Product[] = Object.freeze([
  { sku: "MUG-001", name: "Enamel mug", priceCents: 1400, options: "colour: slate blue; size: 350 ml; engraving: none" },
  { sku: "TEE-204", name: "Organic T-shirt", priceCents: 2500, options: "size: M; colour: heather grey; fit: regular" },
  { sku: "NBK-310", name: "Dot-grid notebook", priceCents: 1800, options: "pages: 192; cover: linen; ribbon: 2" },
  { sku: "PEN-077", name: "Fountain pen", priceCents: 4200, options: "nib: fine; ink: blue-black cartridges; case: yes" },
  { sku: "BAG-512", name: "Canvas tote", priceCents: 2200, options: "strap: long; print: sessionkit logo; lining: none" },
]);

/** Browsers keep at most about 4096 bytes per cookie: the most a cookie-stored session could hold. */
export const COOKIE_LIMIT = 4096;

/** Keeps the demo's sessions bounded however often someone clicks "add". */
export const MAX_CART_LINES = 120;

export function findProduct(sku: unknown): Product | undefined {
  return PRODUCTS.find((product) => product.sku === sku);
}

export function cartLine(product: Product, now: Date): CartLine {
  return { ...product, addedAt: now.toISOString() };
}

/** Size in bytes of a value serialized as JSON (what the session holds, before encryption). */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null), "utf8");
}

export function formatPrice(cents: number): string {
  return `€${(cents / 100).toFixed(2)}`;
}

export function formatBytes(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KB`;
}
