import { Table, Text } from "@mantine/core";
import { Link } from "react-router";
import type { Contact } from "../api.ts";

export function ContactSample({ contacts, empty = "No contacts" }: { contacts: Contact[]; empty?: string }) {
  if (contacts.length === 0)
    return (
      <Text c="dimmed" size="sm">
        {empty}
      </Text>
    );
  return (
    <Table striped highlightOnHover>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Email</Table.Th>
          <Table.Th>Name</Table.Th>
          <Table.Th>Country</Table.Th>
          <Table.Th>Status</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {contacts.map((c) => (
          <Table.Tr key={c.id}>
            <Table.Td>
              <Link to={`/contacts/${c.id}`}>{c.email ?? c.external_id ?? c.id}</Link>
            </Table.Td>
            <Table.Td>{[c.first_name, c.last_name].filter(Boolean).join(" ")}</Table.Td>
            <Table.Td>{c.country}</Table.Td>
            <Table.Td>{c.status}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
