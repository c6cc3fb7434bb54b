/**
 * The Plans view (Explorer): every plan of the workspace with its steps, from the server's
 * `planfirst.listPlans`. A click opens the plan; inline buttons run what each row allows (Approve
 * a draft, Execute the next step, Retry a failed step, Undo the step whose edit landed last). It refreshes on every
 * `planfirst/status` and when the server (re)starts.
 */
import * as vscode from 'vscode';
import type { PlanfirstClient } from './client';
import { PlanSummary, planTreeView, StepRow, stepTreeView, TreeView } from './logic';

/** A row of the view; commands run from an inline button get it as their argument. */
export type PlanNode =
    | { kind: 'plan'; planId: string; plan: PlanSummary }
    | { kind: 'step'; planId: string; step: number; plan: PlanSummary; row: StepRow };

const REFRESH_DELAY_MS = 300;

export class PlansView implements vscode.TreeDataProvider<PlanNode>, vscode.Disposable {
    private readonly changed = new vscode.EventEmitter<PlanNode | undefined>();
    readonly onDidChangeTreeData = this.changed.event;
    private timer: NodeJS.Timeout | undefined;
    private readonly disposables: vscode.Disposable[];

    constructor(private readonly pf: PlanfirstClient) {
        this.disposables = [
            this.changed,
            vscode.window.createTreeView('planfirst.plans', { treeDataProvider: this, showCollapseAll: true }),
            vscode.commands.registerCommand('planfirst.ui.refreshPlans', () => this.refresh()),
            pf.onStatus(() => this.refresh()),
            pf.onServerState((s) => s.state === 'running' && this.refresh()),
        ];
    }

    /** Read the plans again (coalesced: a running step sends many status updates). */
    refresh(): void {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.changed.fire(undefined), REFRESH_DELAY_MS);
    }

    async getChildren(node?: PlanNode): Promise<PlanNode[]> {
        if (node?.kind === 'step') {
            return [];
        }
        if (node?.kind === 'plan') {
            return (node.plan.stepList ?? []).map((row) => ({ kind: 'step', planId: node.planId, step: row.order, plan: node.plan, row }));
        }
        let plans: PlanSummary[] = [];
        try {
            plans = (await this.pf.command('planfirst.listPlans', {})) ?? [];
        } catch (e) {
            this.pf.log.warn(`Plans view: ${e instanceof Error ? e.message : String(e)}`);
            return []; // the view's welcome text offers the way forward
        }
        if (plans.length) {
            void vscode.commands.executeCommand('setContext', 'planfirst.hasPlan', true);
        }
        return plans.map((plan) => ({ kind: 'plan', planId: plan.id, plan }));
    }

    getTreeItem(node: PlanNode): vscode.TreeItem {
        const view: TreeView = node.kind === 'plan' ? planTreeView(node.plan) : stepTreeView(node.plan, node.row);
        const item = new vscode.TreeItem(
            view.label,
            node.kind === 'step'
                ? vscode.TreeItemCollapsibleState.None
                : node.plan.active
                  ? vscode.TreeItemCollapsibleState.Expanded
                  : vscode.TreeItemCollapsibleState.Collapsed,
        );
        item.id = node.kind === 'plan' ? node.planId : `${node.planId}#${node.step}`;
        item.description = view.description;
        item.tooltip = view.tooltip;
        item.iconPath = new vscode.ThemeIcon(view.icon);
        item.contextValue = view.context;
        item.command = { title: 'Show Plan', command: 'planfirst.ui.showPlan', arguments: [node] };
        return item;
    }

    dispose(): void {
        clearTimeout(this.timer);
        for (const d of this.disposables) {
            d.dispose();
        }
    }
}
