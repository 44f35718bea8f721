// The init step of deploy/compose/mongo-replica-set.yml: makes the members one replica
// set and waits until it has a primary and every member is a primary or secondary, so
// that writes with w=majority succeed. Does nothing but wait when the set exists, so
// it may run again on every `docker-compose up`. Run with mongosh against the first
// member (directConnection); logs in as the root user (MONGO_ROOT_USERNAME /
// MONGO_ROOT_PASSWORD from the environment, never on a command line).
//   MONGO_REPLICA_SET          the set's name (default rs0)
//   MONGO_REPLICA_SET_MEMBERS  host:port of each member, comma-separated; the first
//                              is preferred as primary
const env = process.env;
const name = env.MONGO_REPLICA_SET || "rs0";
const members = (env.MONGO_REPLICA_SET_MEMBERS || "").split(",").map((m) => m.trim()).filter((m) => m);
if (members.length < 3) {
  throw new Error(`MONGO_REPLICA_SET_MEMBERS names ${members.length} members; a replica set that survives the loss of one needs 3`);
}
if (!env.MONGO_ROOT_USERNAME || !env.MONGO_ROOT_PASSWORD) {
  throw new Error("MONGO_ROOT_USERNAME and MONGO_ROOT_PASSWORD must be set");
}
db.getSiblingDB("admin").auth(env.MONGO_ROOT_USERNAME, env.MONGO_ROOT_PASSWORD);

let initiated = true;
try {
  rs.status();
} catch (err) {
  if (err.codeName !== "NotYetInitialized") {
    throw err;
  }
  initiated = false;
}
if (initiated) {
  print(`replica set ${name} exists`);
} else {
  const config = {
    _id: name,
    members: members.map((host, i) => ({ _id: i, host, priority: i === 0 ? 2 : 1 })),
  };
  rs.initiate(config);
  print(`initiated replica set ${name}: ${members.join(", ")}`);
}

const deadline = Date.now() + 120 * 1000;
for (;;) {
  const states = rs.status().members.map((m) => `${m.name} ${m.stateStr}`);
  const primary = states.some((s) => s.endsWith(" PRIMARY"));
  if (primary && states.every((s) => s.endsWith(" PRIMARY") || s.endsWith(" SECONDARY"))) {
    print(`replica set ${name} ready: ${states.join(", ")}`);
    break;
  }
  if (Date.now() > deadline) {
    throw new Error(`replica set ${name} not ready after 120 s: ${states.join(", ")}`);
  }
  sleep(1000);
}
