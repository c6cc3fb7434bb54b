-- Headless Neovim 0.7+ end-to-end test of planfirst: generate -> revise -> approve -> execute
-- every step -> undo the last one.
-- Run by ../run-nvim-e2e.sh as:  nvim --headless -i NONE -u e2e.lua <a workspace file>
-- Environment: PLANFIRST_CMD (JSON array: the server command), PLANFIRST_TASK, PLANFIRST_FEEDBACK
-- (revision feedback), PLANFIRST_STEPS (how many times to run executeNextStep; the last of them
-- is undone), NVIM_RESULT (where the JSON result goes).
-- Uses vim.lsp.start_client (0.7 has no vim.lsp.start) and records what the editor saw; the shell
-- script checks the files on disk. Neovim applies needsConfirmation edits without asking.
local out = assert(os.getenv('NVIM_RESULT'), 'NVIM_RESULT is not set')
local v = vim.version()
local result = { nvim = string.format('%d.%d.%d', v.major, v.minor, v.patch), steps = {}, diagnostics = {}, messages = {} }

local function finish(code)
  local f = io.open(out, 'w')
  f:write(vim.fn.json_encode(result))
  f:close()
  -- qall! on purpose: the files on disk must hold the edits without Neovim ever saving a buffer
  vim.cmd(code == 0 and 'qall!' or ('cquit! ' .. code))
end

-- record every diagnostic the server publishes (validation failures), then let Neovim show it
local publish = vim.lsp.handlers['textDocument/publishDiagnostics']
vim.lsp.handlers['textDocument/publishDiagnostics'] = function(err, params, ctx, config)
  for _, d in ipairs(params.diagnostics or {}) do
    table.insert(result.diagnostics, { uri = params.uri, message = d.message, line = d.range.start.line, source = d.source })
  end
  return publish(err, params, ctx, config)
end
-- the user answers planfirst's own preview (Neovim shows no preview of its own): Neovim 0.7 asks
-- window/showMessageRequest with inputlist(); choice 1 is "Apply step N"
local questions = {}
vim.fn.inputlist = function(items)
  table.insert(questions, items[1])
  return 1
end
vim.lsp.handlers['window/showMessage'] = function(_, params)
  table.insert(result.messages, params.message)
end

local function read_file(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local text = f:read('*a')
  f:close()
  return text
end

local function request(client, bufnr, command, arg, timeout)
  local done, resp = false, nil
  client.request('workspace/executeCommand', { command = command, arguments = { arg } }, function(err, res)
    resp = { err = err, result = res }
    done = true
  end, bufnr)
  assert(vim.wait(timeout or 120000, function() return done end, 50), command .. ' timed out')
  if resp.err then
    error(command .. ' failed: ' .. (resp.err.message or vim.inspect(resp.err)))
  end
  return resp.result
end

-- run after startup has loaded the file argument (VimEnter), not while init.lua runs
vim.api.nvim_create_autocmd('VimEnter', { once = true, callback = function()
  local ok, err = pcall(function()
    local bufnr = vim.api.nvim_get_current_buf()
    local initialized = false
    local client_id = vim.lsp.start_client({
      name = 'planfirst',
      cmd = vim.fn.json_decode((assert(os.getenv('PLANFIRST_CMD'), 'PLANFIRST_CMD is not set'))),
      root_dir = vim.fn.getcwd(),
      init_options = { planfirst = vim.empty_dict() },
      on_init = function() initialized = true end,
    })
    assert(client_id, 'the server did not start')
    vim.lsp.buf_attach_client(bufnr, client_id)
    assert(vim.wait(30000, function() return initialized end, 50), 'the server did not initialize')
    local client = vim.lsp.get_client_by_id(client_id)
    result.commands = client.server_capabilities.executeCommandProvider.commands

    local plan = request(client, bufnr, 'planfirst.generatePlan', { task = os.getenv('PLANFIRST_TASK') })
    result.plan = plan
    -- Neovim 0.7 has neither window/showDocument nor workspace/textDocumentContent: the server
    -- answers with the plan's markdown file, which we open like a user would
    if plan.uri:sub(1, 7) == 'file://' then
      vim.cmd('edit ' .. vim.fn.fnameescape(vim.uri_to_fname(plan.uri)))
      result.plan_text = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
    end
    -- revise the fresh plan: the feedback goes to the model, revision 2 replaces the plan file
    local plan_file = vim.uri_to_fname(plan.uri)
    result.revise = request(client, bufnr, 'planfirst.revisePlan',
      { planId = plan.planId, feedback = assert(os.getenv('PLANFIRST_FEEDBACK'), 'PLANFIRST_FEEDBACK is not set') })
    result.revised_text = read_file(plan_file)
    result.approve = request(client, bufnr, 'planfirst.approvePlan', { planId = plan.planId })
    local steps = tonumber(os.getenv('PLANFIRST_STEPS') or '1')
    for _ = 1, steps do
      table.insert(result.steps, request(client, bufnr, 'planfirst.executeNextStep', { planId = plan.planId }))
    end
    result.plans = request(client, bufnr, 'planfirst.listPlans', vim.empty_dict())
    -- what the last step left on disk, before it is undone (the shell checks both)
    result.readme_before_undo = read_file('README.md')
    result.undo = request(client, bufnr, 'planfirst.undoStep', { planId = plan.planId, step = steps })
    result.plan_after_undo = read_file(plan_file)
    result.questions = questions
    -- shut the server down cleanly, as Neovim does on exit
    client.stop()
    vim.wait(5000, function() return client.is_stopped() end, 50)
  end)
  if not ok then
    result.error = tostring(err)
    finish(1)
  else
    finish(0)
  end
end })
