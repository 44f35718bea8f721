// The auth-service's own MongoDB user: readWrite on its database and nothing else (no
// other database, no user or cluster administration). The mongo image runs this once,
// from /docker-entrypoint-initdb.d, when it initialises an empty data volume, with
// `db` set to MONGO_INITDB_DATABASE; the root user (MONGO_INITDB_ROOT_USERNAME) is for
// people, not for a service. The entrypoint unsets every MONGO_INITDB_* variable
// before mongod starts, so the password does not stay in the server's environment.
const password = process.env.MONGO_INITDB_AUTH_SERVICE_PASSWORD || "";
if (password.length < 32) {
  throw new Error("MONGO_INITDB_AUTH_SERVICE_PASSWORD is unset or shorter than 32 characters; make one with: openssl rand -hex 32");
}
if (password.includes("replace-me")) {
  throw new Error("MONGO_INITDB_AUTH_SERVICE_PASSWORD still holds the placeholder of .env.example; make one with: openssl rand -hex 32");
}
db.createUser({
  user: "auth-service",
  pwd: password,
  roles: [{ role: "readWrite", db: db.getName() }],
});
print(`created the MongoDB user auth-service with readWrite on ${db.getName()}`);
