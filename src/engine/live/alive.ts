import type { ContactTable } from "../contacts.ts";

/** The index of a contact that exists now; throws for an unknown or erased one. */
export function aliveIndex(contacts: ContactTable, contactId: string): number {
  const i = contacts.index(contactId);
  if (i === undefined || !contacts.alive.has(i)) throw new Error(`unknown contact "${contactId}"`);
  return i;
}
