/** A demo account: no passwords, picking a name signs in (the demo is about sessions, not credentials). */
export interface DemoUser {
  id: string;
  name: string;
}

export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  { id: "ada", name: "Ada Lovelace" },
  { id: "grace", name: "Grace Hopper" },
  { id: "alan", name: "Alan Turing" },
  { id: "katherine", name: "Katherine Johnson" },
]);

export function findUser(id: unknown): DemoUser | undefined {
  return DEMO_USERS.find((user) => user.id === id);
}
