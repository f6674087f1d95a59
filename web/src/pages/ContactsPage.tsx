export function ContactsPage() {
  return <div>ContactsPage</div>;
}
