// Type-checked by scripts/release.sh in the scratch project: the package's types
// (exports' "types" conditions) are usable from another TypeScript project.
import { type ContactInput, Engine, type MembershipChange } from "slice/engine";
import { type NewSegment, SliceClient, type WireSegment } from "slice/client";

const engine = new Engine({ timeZone: "UTC", fields: [], clock: { now: () => Date.now() } });
const contact: ContactInput = { id: "c1", email: "ana@example.com" };
const changes: MembershipChange[] = engine.upsertContact(contact);
const client = new SliceClient({ url: "http://127.0.0.1:8080" });
const segment: NewSegment = { name: "France", rule: { type: "field", field: "country", op: "eq", value: "FR" } };
const created: Promise<WireSegment> = client.segments.create(segment);
// @ts-expect-error: a segment's size is a number
const wrong: string = (await created).size;
export { changes, wrong };
