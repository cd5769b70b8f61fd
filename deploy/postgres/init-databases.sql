-- One database per service (clipforge_<service>). Runs once, when the compose volume is empty;
-- the services also create their database at start-up if it is missing.
CREATE DATABASE clipforge_gateway;
CREATE DATABASE clipforge_ingest;
CREATE DATABASE clipforge_transcribe;
CREATE DATABASE clipforge_rank;
CREATE DATABASE clipforge_render;
