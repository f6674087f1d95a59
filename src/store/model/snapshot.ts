/** What an engine snapshot records of the store, to catch up from it at the next start. */

/**
 * Where the store stood when a snapshot was taken: the contact journal's highest `seq`
 * (global), and the workspace's highest event and change `seq`; 0 where there is none.
 */
export interface StorePosition {
  journal: number;
  events: number;
  changes: number;
}

/** The contacts journaled after a position, by kind; a contact may be under several. */
export interface JournaledContacts {
  /** Their row was inserted or updated. */
  rows: string[];
  /** Their row was deleted. */
  erased: string[];
  /** Events of theirs were moved to or from them, or deleted. */
  events: string[];
}
