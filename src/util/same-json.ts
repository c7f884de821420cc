import { isDeepStrictEqual } from 'node:util';

/** The value as it reads back from a JSON file: undefined members dropped, everything else kept. */
const asJson = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/**
 * Whether two settings are the same once written to JSON. Key order does not count: a record read
 * back from disk and the same settings built again in code list their keys in different orders
 * (a resumed distilled run was refused for exactly that), so comparing JSON text is wrong.
 */
export const sameJson = (a: unknown, b: unknown): boolean => isDeepStrictEqual(asJson(a), asJson(b));
