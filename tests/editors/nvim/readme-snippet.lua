-- planfirst in Neovim (0.7 and later): put this in your init.lua
-- the server command; e.g. vim.g.planfirst_cmd = { '/path/to/venv/bin/python', '-I', '-m', 'planfirst', 'serve' }
-- (always -I: without it `python -m` imports a `planfirst/` folder from the project you open)
local planfirst_cmd = vim.g.planfirst_cmd or { 'planfirst', 'serve' }

local function planfirst_start(bufnr)
  local root = vim.fn.getcwd()
  if vim.lsp.start then -- Neovim 0.8+
    vim.lsp.start({ name = 'planfirst', cmd = planfirst_cmd, root_dir = root,
                    init_options = { planfirst = vim.empty_dict() } }, { bufnr = bufnr })
  else -- Neovim 0.7: start once, attach every buffer
    _G.planfirst_client_id = _G.planfirst_client_id or vim.lsp.start_client({
      name = 'planfirst', cmd = planfirst_cmd, root_dir = root, init_options = { planfirst = vim.empty_dict() } })
    vim.lsp.buf_attach_client(bufnr, _G.planfirst_client_id)
  end
end
vim.api.nvim_create_autocmd('BufReadPost', { callback = function(a) planfirst_start(a.buf) end })

local function planfirst(command, arg, on_result)
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  for _, c in ipairs(get()) do
    if c.name == 'planfirst' then
      -- an empty Lua table would be sent as a JSON list: the server takes one JSON object
      if arg == nil or vim.tbl_isempty(arg) then arg = vim.empty_dict() end
      local params = { command = command, arguments = { arg } }
      local handler = function(err, res)
        if err then vim.notify('planfirst: ' .. err.message, vim.log.levels.ERROR)
        elseif on_result then on_result(res) end
      end
      if vim.fn.has('nvim-0.11') == 1 then c:request('workspace/executeCommand', params, handler)
      else c.request('workspace/executeCommand', params, handler) end
      return
    end
  end
  vim.notify('planfirst: the server is not running (open a file first)', vim.log.levels.ERROR)
end

-- the plan is a markdown file under .planfirst/ (Neovim has no workspace/textDocumentContent)
local last_plan
local function open_plan(res)
  last_plan = res and res.planId or last_plan
  if res and res.uri and res.uri:match('^file:') then vim.cmd('edit ' .. vim.fn.fnameescape(vim.uri_to_fname(res.uri))) end
end
local function step_done(res) vim.notify(('planfirst: step %s %s %s'):format(res.step or '-', res.status, res.message or '')) end
local cmd = vim.api.nvim_create_user_command
cmd('PlanfirstGenerate', function(o)
  local arg = { task = o.args }
  if o.range > 0 then -- :'<,'>PlanfirstGenerate <task> sends the selected lines as context
    arg.uri = vim.uri_from_bufnr(0)
    arg.range = { start = { line = o.line1 - 1, character = 0 }, ['end'] = { line = o.line2, character = 0 } }
  end
  planfirst('planfirst.generatePlan', arg, open_plan)
end, { nargs = '+', range = true })
cmd('PlanfirstRevise', function(o) planfirst('planfirst.revisePlan', { planId = last_plan, feedback = o.args }, open_plan) end, { nargs = '+' })
cmd('PlanfirstApprove', function() planfirst('planfirst.approvePlan', {}, function(r) vim.notify('planfirst: plan ' .. r.status) end) end, {})
cmd('PlanfirstExecute', function() planfirst('planfirst.executeNextStep', {}, step_done) end, {})
cmd('PlanfirstRetry', function() planfirst('planfirst.retryStep', {}, step_done) end, {})
cmd('PlanfirstUndo', function() planfirst('planfirst.undoStep', {}, step_done) end, {})
cmd('PlanfirstShow', function() planfirst('planfirst.showPlan', {}, open_plan) end, {})
cmd('PlanfirstCancel', function() planfirst('planfirst.cancel', {}) end, {})
-- planfirst's own preview (Neovim shows none): each step's change opens as a diff document under
-- .planfirst/plans/ (0.7: the question names it) with "Apply step N" / "Discard" lenses; answer the
-- question, or run :PlanfirstLens on the diff's first line, or :PlanfirstApply / :PlanfirstDiscard
vim.api.nvim_create_autocmd({ 'BufEnter', 'CursorHold', 'InsertLeave' }, { pattern = '*/.planfirst/plans/*',
  callback = function() pcall(vim.lsp.codelens.refresh) end })
cmd('PlanfirstLens', function() vim.lsp.codelens.run() end, {})
cmd('PlanfirstApply', function() planfirst('planfirst.applyPreview', {}) end, {})
cmd('PlanfirstDiscard', function() planfirst('planfirst.discardPreview', {}) end, {})
