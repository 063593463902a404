// The secrets and configs the dispatcher sent with this node's tasks
// (SwarmKit's agent/secrets and agent/configs). Kept in memory only: secret
// data never reaches the task DB or a log. A COMPLETE assignment set replaces
// both sets; INCREMENTAL changes add or drop single objects.
import type { Config, Secret } from "../../shared/api/index.js";

export interface DependencyChanges {
  secrets: Secret[];
  configs: Config[];
  removedSecrets: string[];
  removedConfigs: string[];
}

export class DependencyStore {
  private readonly secrets = new Map<string, Secret>();
  private readonly configs = new Map<string, Config>();

  apply(complete: boolean, c: DependencyChanges): void {
    if (complete) {
      this.secrets.clear();
      this.configs.clear();
    }
    for (const s of c.secrets) this.secrets.set(s.id, s);
    for (const x of c.configs) this.configs.set(x.id, x);
    for (const id of c.removedSecrets) this.secrets.delete(id);
    for (const id of c.removedConfigs) this.configs.delete(id);
  }

  secret(id: string): Secret | undefined {
    return this.secrets.get(id);
  }

  config(id: string): Config | undefined {
    return this.configs.get(id);
  }

  /** Counts only (never contents), for status and tests. */
  get sizes(): { secrets: number; configs: number } {
    return { secrets: this.secrets.size, configs: this.configs.size };
  }
}
