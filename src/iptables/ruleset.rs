//! The structured result: tables, the chains each creates, and the rules
//! each adds, in order. [`Ruleset::restore`] is the one rendering of
//! `iptables-restore --noflush` input: Istio 1.24+'s own output (and so its
//! goldens) and the VM bundle's `iptables.rules` both come from it, and the
//! VM's `iptables.sh` removes exactly what [`Table::hooks`] and
//! [`Table::chains`] list.

/// One address family's rules, table by table, in output order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub tables: Vec<Table>,
}

/// One table: the chains it creates (`-N`) and its rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    /// Chains the rules create, in order.
    pub chains: Vec<String>,
    /// Rules in order.
    pub rules: Vec<Rule>,
}

/// One rule: its chain, where it goes, and its matches and target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub chain: String,
    /// `None` appends (`-A`); `Some(n)` inserts at 1-based position `n` (`-I`).
    pub position: Option<u32>,
    /// The matches and target, words joined by single spaces
    /// (`-p tcp --dport 22 -j RETURN`).
    pub spec: String,
}

impl Rule {
    /// `-A CHAIN spec` or `-I CHAIN N spec`, as restore input and the
    /// command form write it.
    pub fn line(&self) -> String {
        let mut line = String::with_capacity(self.chain.len() + self.spec.len() + 8);
        match self.position {
            None => {
                line.push_str("-A ");
                line.push_str(&self.chain);
            }
            Some(at) => {
                line.push_str("-I ");
                line.push_str(&self.chain);
                line.push(' ');
                line.push_str(&at.to_string());
            }
        }
        if !self.spec.is_empty() {
            line.push(' ');
            line.push_str(&self.spec);
        }
        line
    }

    /// The target of a rule ending in `-j TARGET`.
    pub fn jump_target(&self) -> Option<&str> {
        let mut words = self.spec.rsplit(' ');
        let target = words.next()?;
        (words.next()? == "-j").then_some(target)
    }
}

impl Table {
    /// The rules this table adds to chains it does not create (the
    /// built-in ones), as `iptables -D` takes them: `CHAIN spec`.
    pub fn hooks(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| !self.chains.contains(&r.chain))
            .map(|r| {
                if r.spec.is_empty() {
                    r.chain.clone()
                } else {
                    format!("{} {}", r.chain, r.spec)
                }
            })
            .collect()
    }
}

impl Ruleset {
    /// The table named `name`, added (empty) at the end if absent.
    pub(crate) fn table_mut(&mut self, name: &str) -> &mut Table {
        let i = match self.tables.iter().position(|t| t.name == name) {
            Some(i) => i,
            None => {
                self.tables.push(Table {
                    name: name.to_owned(),
                    chains: Vec::new(),
                    rules: Vec::new(),
                });
                self.tables.len() - 1
            }
        };
        &mut self.tables[i]
    }

    /// `iptables-restore --noflush` input: per table `* T`, its `-N`
    /// lines, its rules, `COMMIT`; a table with neither chains nor rules
    /// is left out.
    pub fn restore(&self) -> String {
        let mut out = String::new();
        for table in self
            .tables
            .iter()
            .filter(|t| !t.chains.is_empty() || !t.rules.is_empty())
        {
            out.push_str("* ");
            out.push_str(&table.name);
            out.push('\n');
            for chain in &table.chains {
                out.push_str("-N ");
                out.push_str(chain);
                out.push('\n');
            }
            for rule in &table.rules {
                out.push_str(&rule.line());
                out.push('\n');
            }
            out.push_str("COMMIT\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(chain: &str, position: Option<u32>, spec: &str) -> Rule {
        Rule {
            chain: chain.to_owned(),
            position,
            spec: spec.to_owned(),
        }
    }

    #[test]
    fn restore_renders_tables_chains_and_rules_in_order() {
        let mut set = Ruleset::default();
        let nat = set.table_mut("nat");
        nat.chains.push("ISTIO_OUTPUT".to_owned());
        nat.rules.push(rule("OUTPUT", None, "-j ISTIO_OUTPUT"));
        nat.rules.push(rule("PREROUTING", Some(1), "-i eth9 -j RETURN"));
        nat.rules.push(rule("ISTIO_OUTPUT", None, "-j RETURN"));
        set.table_mut("raw");
        assert_eq!(
            set.restore(),
            "* nat\n-N ISTIO_OUTPUT\n-A OUTPUT -j ISTIO_OUTPUT\n-I PREROUTING 1 -i eth9 -j RETURN\n\
             -A ISTIO_OUTPUT -j RETURN\nCOMMIT\n"
        );
        assert_eq!(
            set.tables[0].hooks(),
            ["OUTPUT -j ISTIO_OUTPUT", "PREROUTING -i eth9 -j RETURN"]
        );
        assert_eq!(set.tables[0].rules[2].jump_target(), Some("RETURN"));
        assert_eq!(rule("X", None, "-p tcp").jump_target(), None);
    }
}
